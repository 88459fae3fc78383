import { type KeyboardEvent, useEffect, useRef, useState } from 'react';
import { useLocation } from '../router';

/**
 * Find in a task's output while it is live: every match is highlighted in
 * place (CSS Custom Highlight API: the output's DOM is not touched, so the
 * browser's own find keeps working too), counted, and stepped through; new
 * output is searched as it arrives.
 */

const HIGHLIGHT = 'ops-find';
const CURRENT = 'ops-find-current';

const asciiLower = (s: string) => s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));

interface Registry {
  set(name: string, h: unknown): void;
  delete(name: string): void;
}
function registry(): { reg: Registry; make: (ranges: Range[]) => unknown } | null {
  const css = (globalThis as { CSS?: { highlights?: Registry } }).CSS;
  const H = (globalThis as { Highlight?: new (...r: Range[]) => unknown }).Highlight;
  if (css?.highlights === undefined || H === undefined) return null;
  return { reg: css.highlights, make: (ranges) => new H(...ranges) };
}

/** Ranges of every match of `needle` (ASCII letters in any case) in the text nodes under `root`. */
export function findRanges(root: Element, needle: string): Range[] {
  const n = asciiLower(needle);
  if (n === '') return [];
  const nodes: { node: Text; start: number }[] = [];
  let text = '';
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node !== null; node = walker.nextNode()) {
    nodes.push({ node: node as Text, start: text.length });
    text += (node as Text).data;
  }
  const hay = asciiLower(text);
  const ranges: Range[] = [];
  let k = 0;
  const locate = (offset: number): { node: Text; offset: number } => {
    while (k + 1 < nodes.length && (nodes[k + 1] as { start: number }).start <= offset) k += 1;
    const at = nodes[k] as { node: Text; start: number };
    return { node: at.node, offset: offset - at.start };
  };
  for (let i = hay.indexOf(n); i >= 0; i = hay.indexOf(n, i + n.length)) {
    const range = document.createRange();
    const a = locate(i);
    range.setStart(a.node, a.offset);
    const b = locate(i + n.length - 1);
    range.setEnd(b.node, b.offset + 1);
    ranges.push(range);
  }
  return ranges;
}

export function OutputFind({ target, version }: { target: string; version: number }) {
  const { query } = useLocation();
  const [text, setText] = useState(query.get('find') ?? '');
  const [count, setCount] = useState(0);
  const [current, setCurrent] = useState(0);
  const ranges = useRef<Range[]>([]);
  const supported = registry() !== null;

  // biome-ignore lint/correctness/useExhaustiveDependencies: new output (version) is searched again
  useEffect(() => {
    const root = document.querySelector(target);
    ranges.current = root === null || text.length === 0 ? [] : findRanges(root, text);
    setCount(ranges.current.length);
    setCurrent((c) => Math.min(c, Math.max(0, ranges.current.length - 1)));
    paint(current);
  }, [text, version, target]);
  // biome-ignore lint/correctness/useExhaustiveDependencies: repaints when the current match moves
  useEffect(() => paint(current), [current]);
  useEffect(
    () => () => {
      const r = registry();
      r?.reg.delete(HIGHLIGHT);
      r?.reg.delete(CURRENT);
    },
    [],
  );

  function paint(index: number) {
    const r = registry();
    if (r === null) return;
    const all = ranges.current;
    r.reg.set(HIGHLIGHT, r.make(all));
    const cur = all[index];
    if (cur === undefined) r.reg.delete(CURRENT);
    else r.reg.set(CURRENT, r.make([cur]));
  }

  const go = (step: number) => {
    const n = ranges.current.length;
    if (n === 0) return;
    const next = (current + step + n) % n;
    setCurrent(next);
    const range = ranges.current[next];
    const box = document.querySelector(target);
    if (range === undefined || box === null) return;
    const r = range.getBoundingClientRect();
    const b = box.getBoundingClientRect();
    if (r.top < b.top || r.bottom > b.bottom) box.scrollTop += r.top - b.top - b.height / 3;
    range.startContainer.parentElement?.scrollIntoView({ block: 'nearest' });
  };
  const onKey = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      go(e.shiftKey ? -1 : 1);
    } else if (e.key === 'Escape') setText('');
  };

  return (
    <search className="ops-find" aria-label="Find in the output">
      <label className="inline">
        Find in output
        <input
          type="search"
          value={text}
          onChange={(e) => setText(e.target.value)}
          onKeyDown={onKey}
          spellCheck={false}
        />
      </label>
      <output aria-live="polite" data-testid="find-count">
        {text === '' ? '' : count === 0 ? 'no match' : `${current + 1} of ${count}`}
      </output>
      <button type="button" onClick={() => go(-1)} disabled={count === 0} aria-label="Previous match">
        ↑
      </button>
      <button type="button" onClick={() => go(1)} disabled={count === 0} aria-label="Next match">
        ↓
      </button>
      {supported ? null : (
        <span className="muted small">(this browser cannot highlight: use its own find)</span>
      )}
    </search>
  );
}
