import { describe, expect, it } from 'vitest';
import { AppError } from '../src/core/errors.js';
import { parsePriority, priorityLabel } from '../src/core/priority.js';

describe('parsePriority', () => {
  it('accepts the numbers 1-5, as numbers or text', () => {
    for (const p of [1, 2, 3, 4, 5]) {
      expect(parsePriority(p)).toBe(p);
      expect(parsePriority(String(p))).toBe(p);
    }
  });

  it('accepts the labels, in any case and with surrounding spaces', () => {
    expect(parsePriority('critical')).toBe(1);
    expect(parsePriority('high')).toBe(2);
    expect(parsePriority('normal')).toBe(3);
    expect(parsePriority('background')).toBe(4);
    expect(parsePriority('low')).toBe(5);
    expect(parsePriority('HIGH')).toBe(2);
    expect(parsePriority('  Low ')).toBe(5);
    expect(parsePriority(' 2 ')).toBe(2);
  });

  it.each([0, 6, -1, 1.5, 10, 'urgent', '', '0', '6', '01', '1.0', 'crit', 'high!', '2 3', 'NaN'])(
    'rejects %j with VALIDATION_FAILED on field priority',
    (input) => {
      let caught: unknown;
      try {
        parsePriority(input);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(AppError);
      const e = caught as AppError;
      expect(e.code).toBe('VALIDATION_FAILED');
      expect(e.statusCode).toBe(400);
      expect(e.field).toBe('priority');
      expect(e.message).toContain(`'${input}'`);
      expect(e.message).toContain('critical');
    },
  );
});

describe('priorityLabel', () => {
  it('shows the number with its label', () => {
    expect(priorityLabel(1)).toBe('1 (critical)');
    expect(priorityLabel(3)).toBe('3 (normal)');
    expect(priorityLabel(5)).toBe('5 (low)');
  });
});
