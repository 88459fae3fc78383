import { type KeyboardEvent, type ReactNode, useLayoutEffect, useRef, useState } from 'react';
import { scrollToRow, visibleRange } from '../windowing';

/**
 * A windowed table: only the rows in view (and a few around them) are in the
 * DOM, positioned inside a spacer as tall as all of them. Rows have a fixed
 * height. The keyboard moves a current row with the arrows, Page Up/Down,
 * Home and End; Enter follows the row's first link.
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
  const box = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [current, setCurrent] = useState(0);
  const viewport = Math.min(height, Math.max(rowHeight, rows.length * rowHeight));
  const { start, end } = visibleRange(scrollTop, viewport, rowHeight, rows.length);
  const template = columns.map((c) => c.width).join(' ');

  // The list shrank (a filter): keep the current row inside it.
  useLayoutEffect(() => {
    if (current >= rows.length) setCurrent(Math.max(0, rows.length - 1));
  }, [rows.length, current]);

  const moveTo = (index: number) => {
    const i = Math.max(0, Math.min(rows.length - 1, index));
    setCurrent(i);
    const el = box.current;
    if (el !== null) {
      const top = scrollToRow(el.scrollTop, viewport, rowHeight, i);
      if (top !== el.scrollTop) el.scrollTop = top;
    }
  };
  const onKey = (e: KeyboardEvent<HTMLDivElement>) => {
    const page = Math.max(1, Math.floor(viewport / rowHeight) - 1);
    const step: Record<string, number> = { ArrowDown: 1, ArrowUp: -1, PageDown: page, PageUp: -page };
    if (e.key in step) moveTo(current + (step[e.key] as number));
    else if (e.key === 'Home') moveTo(0);
    else if (e.key === 'End') moveTo(rows.length - 1);
    else if (e.key === 'Enter') {
      box.current?.querySelector<HTMLAnchorElement>(`[data-index="${current}"] a`)?.click();
    } else return;
    e.preventDefault();
  };

  return (
    <div className="vt" role="table" aria-label={label} aria-rowcount={rows.length + 1} data-testid={testId}>
      <div className="vt-head" role="row" aria-rowindex={1} style={{ gridTemplateColumns: template }}>
        {columns.map((c, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: columns are fixed
          <span key={i} role="columnheader" className={c.className}>
            {c.header}
          </span>
        ))}
      </div>
      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: the scrolling body takes the keyboard */}
      <div
        className="vt-body"
        ref={box}
        tabIndex={0}
        style={{ height: viewport }}
        onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
        onKeyDown={onKey}
        aria-activedescendant={rows.length === 0 ? undefined : `vt-row-${current}`}
      >
        <div className="vt-spacer" style={{ height: rows.length * rowHeight }}>
          {rows.slice(start, end).map((row, offset) => {
            const index = start + offset;
            return (
              <div
                key={rowKey(row)}
                id={`vt-row-${index}`}
                role="row"
                aria-rowindex={index + 2}
                data-index={index}
                className={`vt-row${index === current ? ' current' : ''}`}
                style={{
                  transform: `translateY(${index * rowHeight}px)`,
                  height: rowHeight,
                  gridTemplateColumns: template,
                }}
              >
                {renderRow(row, index).map((cell, i) => (
                  // biome-ignore lint/suspicious/noArrayIndexKey: cells are positional
                  <span key={i} role="cell" className={columns[i]?.className}>
                    {cell}
                  </span>
                ))}
              </div>
            );
          })}
        </div>
      </div>
    </div>
  );
}
