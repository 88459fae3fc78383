import { describe, expect, it } from 'vitest';
import { filterGrid, type GridRow, outcome, sortFailuresFirst } from '../web/src/batch-grid.js';
import { scrollToRow, visibleRange } from '../web/src/windowing.js';

// The pure parts of the batch grid: which rows are in the DOM, and their order.

describe('windowing', () => {
  it('keeps the rows in view and a few around them, whatever the length', () => {
    expect(visibleRange(0, 500, 36, 10_000, 8)).toEqual({ start: 0, end: 23 });
    const mid = visibleRange(36 * 5000, 500, 36, 10_000, 8);
    expect(mid).toEqual({ start: 4992, end: 5023 });
    expect(mid.end - mid.start).toBeLessThan(40);
    expect(visibleRange(36 * 10_000, 500, 36, 10_000, 8)).toEqual({ start: 9991, end: 10_000 });
    expect(visibleRange(0, 500, 36, 3, 8)).toEqual({ start: 0, end: 3 });
    expect(visibleRange(0, 500, 36, 0)).toEqual({ start: 0, end: 0 });
    expect(visibleRange(-50, 500, 36, 100, 0)).toEqual({ start: 0, end: 15 });
  });

  it('scrolls just enough to show a row', () => {
    expect(scrollToRow(0, 360, 36, 3)).toBe(0);
    expect(scrollToRow(0, 360, 36, 10)).toBe(36);
    expect(scrollToRow(720, 360, 36, 2)).toBe(72);
  });
});

const row = (machine: string, status: string, seq = 1): GridRow => ({
  seq,
  taskId: `${machine}-${seq}`,
  machine,
  status,
  exitCode: status === 'failed' ? 1 : status === 'completed' ? 0 : null,
  signal: null,
  reason: status === 'failed' ? 'EXIT_NONZERO' : null,
});

describe('batch grid order', () => {
  it('puts failures first, then what still moves, then what went well; machines in natural order', () => {
    const sorted = sortFailuresFirst([
      row('web-10', 'completed'),
      row('web-2', 'completed'),
      row('web-9', 'running'),
      row('web-11', 'failed'),
      row('web-3', 'pending'),
      row('web-1', 'failed'),
      row('web-4', 'cancelled'),
    ]);
    expect(sorted.map((r) => `${r.machine}:${r.status}`)).toEqual([
      'web-1:failed',
      'web-11:failed',
      'web-4:cancelled',
      'web-9:running',
      'web-3:pending',
      'web-2:completed',
      'web-10:completed',
    ]);
  });

  it('filters by status and by machine name or task id', () => {
    const rows = [row('web-1', 'failed'), row('db-1', 'failed'), row('web-2', 'completed')];
    expect(filterGrid(rows, 'failed', '').map((r) => r.machine)).toEqual(['web-1', 'db-1']);
    expect(filterGrid(rows, '', 'WEB').map((r) => r.machine)).toEqual(['web-1', 'web-2']);
    expect(filterGrid(rows, '', 'db-1-1').map((r) => r.machine)).toEqual(['db-1']);
    expect(outcome(rows[0] as GridRow)).toBe('exit 1');
    expect(outcome({ status: 'failed', exitCode: null, signal: 'SIGKILL', reason: 'TIMEOUT' })).toBe(
      'SIGKILL',
    );
  });
});
