import { type ReactNode, useState } from 'react';

/** A stack of page cursors (the `before=` of the pages left behind, newest first): push going older, pop going newer. */
export function useCursorStack<C>(): {
  top: C | undefined;
  depth: number;
  push: (cursor: C) => void;
  pop: () => C | undefined;
  clear: () => void;
} {
  const [stack, setStack] = useState<C[]>([]);
  return {
    top: stack.at(-1),
    depth: stack.length,
    push: (cursor) => setStack([...stack, cursor]),
    pop: () => {
      const top = stack.at(-1);
      setStack(stack.slice(0, -1));
      return top;
    },
    clear: () => setStack([]),
  };
}

/** The "← Newer" and "Older →" buttons under a list paged newest first, and anything else for the bar. */
export function Pager({
  canNewer,
  canOlder,
  onNewer,
  onOlder,
  children,
}: {
  canNewer: boolean;
  canOlder: boolean;
  onNewer: () => void;
  onOlder: () => void;
  children?: ReactNode;
}) {
  return (
    <nav className="pager" aria-label="Pages">
      <button type="button" disabled={!canNewer} onClick={onNewer}>
        ← Newer
      </button>
      <button type="button" disabled={!canOlder} onClick={onOlder}>
        Older →
      </button>
      {children}
    </nav>
  );
}
