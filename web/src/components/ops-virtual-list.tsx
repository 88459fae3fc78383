import {
  type CSSProperties,
  type KeyboardEvent,
  type ReactNode,
  useLayoutEffect,
  useRef,
  useState,
} from 'react';
import { scrollToRow, visibleRange } from '../windowing';

/**
 * A windowed table: only the rows in view (and a few around them) are in the
 * DOM, placed over a spacer as tall as all of them. Rows have a fixed height.
 * A real <table> (laid out with CSS grid), so it reads as one. The keyboard
 * moves a current row with the arrows, Page Up/Down, Home and End; Enter
 * follows the row's first link.
 */
export function VirtualTable<T>({
  rows,
  rowHeight,
  height,
  columns,
  renderRow,
  rowKey,
  label,
  testId,
}: {
  rows: readonly T[];
  rowHeight: number;
  /** The viewport's height in px. */
  height: number;
  /** The header cells and the grid-template-columns of every row. */
  columns: { header: ReactNode; width: string; className?: string }[];
  renderRow: (row: T, index: number) => ReactNode[];
  rowKey: (row: T) => string;
  label: string;
  testId?: string;
}) {
  const body = useRef<HTMLTableSectionElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [current, setCurrent] = useState(0);
  const viewport = Math.min(height, Math.max(rowHeight, rows.length * rowHeight));
  const { start, end } = visibleRange(scrollTop, viewport, rowHeight, rows.length);
  // Every column's width, and on narrow screens those of the columns that stay (not .hide-narrow).
  const widths = {
    '--vt-cols': columns.map((c) => c.width).join(' '),
    '--vt-cols-narrow': columns
      .filter((c) => c.className !== 'hide-narrow')
      .map((c) => c.width)
      .join(' '),
  } as CSSProperties;

  // The list shrank (a filter): keep the current row inside it.
  useLayoutEffect(() => {
    if (current >= rows.length) setCurrent(Math.max(0, rows.length - 1));
  }, [rows.length, current]);

  const moveTo = (index: number) => {
    const i = Math.max(0, Math.min(rows.length - 1, index));
    setCurrent(i);
    const el = body.current;
    if (el !== null) {
      const top = scrollToRow(el.scrollTop, viewport, rowHeight, i);
      if (top !== el.scrollTop) el.scrollTop = top;
    }
  };
  const onKey = (e: KeyboardEvent<HTMLTableSectionElement>) => {
    const page = Math.max(1, Math.floor(viewport / rowHeight) - 1);
    const step: Record<string, number> = { ArrowDown: 1, ArrowUp: -1, PageDown: page, PageUp: -page };
    if (e.key in step) moveTo(current + (step[e.key] as number));
    else if (e.key === 'Home') moveTo(0);
    else if (e.key === 'End') moveTo(rows.length - 1);
    else if (e.key === 'Enter')
      body.current?.querySelector<HTMLAnchorElement>(`[data-index="${current}"] a`)?.click();
    else return;
    e.preventDefault();
  };

  return (
    <table
      className="vt"
      aria-label={label}
      aria-rowcount={rows.length + 1}
      data-testid={testId}
      style={widths}
    >
      <thead>
        <tr className="vt-head" aria-rowindex={1}>
          {columns.map((c, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: columns are fixed
            <th key={i} scope="col" className={c.className}>
              {c.header}
            </th>
          ))}
        </tr>
      </thead>
      <tbody
        className="vt-body"
        ref={body}
        // biome-ignore lint/a11y/noNoninteractiveTabindex: the scrolling rows take the keyboard
        tabIndex={0}
        // The rows are placed absolutely; the body's ::before is as tall as all of them (--vt-total).
        style={{ height: viewport, '--vt-total': `${rows.length * rowHeight}px` } as CSSProperties}
        onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
        onKeyDown={onKey}
      >
        {rows.slice(start, end).map((row, offset) => {
          const index = start + offset;
          return (
            <tr
              key={rowKey(row)}
              aria-rowindex={index + 2}
              data-index={index}
              className={`vt-row${index === current ? ' current' : ''}`}
              style={{ transform: `translateY(${index * rowHeight}px)`, height: rowHeight }}
            >
              {renderRow(row, index).map((cell, i) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: cells are positional
                <td key={i} className={columns[i]?.className}>
                  {cell}
                </td>
              ))}
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
