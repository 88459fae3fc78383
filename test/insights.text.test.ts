import { describe, expect, it } from 'vitest';
import { errorLine, groupFailures, normaliseErrorLine } from '../src/server/insights/failure-text.js';
import { asciiLower, matchesText, matchingLines } from '../src/server/insights/output-match.js';
import type { FailedTail } from '../src/store/insight-store.js';

const failed = (machine: string, tail: FailedTail['tail'], more: Partial<FailedTail> = {}): FailedTail => ({
  taskId: `t-${machine}`,
  machine,
  team: 'default',
  exitCode: 1,
  signal: null,
  reason: 'EXIT_NONZERO',
  archived: false,
  tail,
  ...more,
});

describe('error line of a failure', () => {
  it("takes rediacc's note first, then the last stderr line, then stdout; ignores blank lines and the cap note", () => {
    expect(errorLine(failed('a', [{ stream: 'stdout', data: 'ok\nlast out\n\n' }]))).toBe('last out');
    expect(
      errorLine(
        failed('a', [
          { stream: 'stderr', data: 'E: one\nE: two\n' },
          { stream: 'stdout', data: 'later stdout\n' },
        ]),
      ),
    ).toBe('E: two');
    expect(
      errorLine(
        failed('a', [
          { stream: 'stderr', data: 'warning\n' },
          { stream: 'system', data: 'rediacc: cannot start the command: ENOENT\n' },
          {
            stream: 'system',
            data: '\n[rediacc: output cap reached; further output of this task is discarded]\n',
          },
        ]),
      ),
    ).toBe('rediacc: cannot start the command: ENOENT');
    // A line split over two chunks is one line.
    expect(
      errorLine(
        failed('a', [
          { stream: 'stderr', data: 'fatal: could not re' },
          { stream: 'stderr', data: 'ad from remote\r\n' },
        ]),
      ),
    ).toBe('fatal: could not read from remote');
  });

  it('says what happened when nothing was printed', () => {
    expect(errorLine(failed('a', [], { exitCode: 3 }))).toBe('exit 3 without output');
    expect(errorLine(failed('a', [], { exitCode: null, signal: 'SIGKILL', reason: 'TIMEOUT' }))).toBe(
      'killed by SIGKILL',
    );
    expect(errorLine(failed('a', [], { exitCode: null, reason: 'LOST' }))).toBe('LOST');
  });

  it('replaces what differs between machines', () => {
    expect(normaliseErrorLine('ssh: connect to host 10.0.3.17 port 22: Connection refused', 'web-17')).toBe(
      'ssh: connect to host <ip> port <n>: Connection refused',
    );
    expect(normaliseErrorLine('web-17: disk /dev/sda1 is 97% full', 'web-17')).toBe(
      '<machine>: disk /dev/sda1 is <n>% full',
    );
    expect(
      normaliseErrorLine(
        '2026-11-29T02:10:00.123Z job 0192f3a4-1b2c-7d8e-9f00-aabbccddeeff failed at 12:01:02 (commit deadbeef12)',
        'x',
      ),
    ).toBe('<time> job <id> failed at <time> (commit <hex>)');
    // Single digits stay: exit 1 and exit 2 are different.
    expect(normaliseErrorLine('exit 1', 'm')).not.toBe(normaliseErrorLine('exit 2', 'm'));
    expect(normaliseErrorLine('  many   spaces  ', 'm')).toBe('many spaces');
  });

  it('groups failures across machines, the largest group first', () => {
    const groups = groupFailures(
      [
        ...Array.from({ length: 3 }, (_, i) =>
          failed(`web-${i}`, [{ stream: 'stderr', data: `web-${i}: cannot reach 10.0.0.${i}:5432\n` }]),
        ),
        failed('db-1', [{ stream: 'stderr', data: 'disk full\n' }], { exitCode: 4 }),
        failed('db-2', [{ stream: 'stderr', data: 'disk full\n' }], { exitCode: 5 }),
        failed('db-3', [{ stream: 'stderr', data: 'disk full\n' }], {
          exitCode: null,
          reason: 'TIMEOUT',
          signal: 'SIGTERM',
        }),
        failed('old', [], { archived: true }),
      ],
      2,
    );
    expect(groups.map((g) => [g.pattern, g.count])).toEqual([
      ['<machine>: cannot reach <ip>', 3],
      ['disk full', 2],
      ['disk full', 1],
      ['output archived', 1],
    ]);
    expect(groups[0]?.example).toBe('web-0: cannot reach 10.0.0.0:5432');
    expect(groups[0]?.tasks).toEqual([
      { taskId: 't-web-0', machine: 'web-0' },
      { taskId: 't-web-1', machine: 'web-1' },
    ]);
    expect(groups[1]).toMatchObject({ reasons: ['EXIT_NONZERO'], exitCodes: [4, 5] });
    expect(groups[2]).toMatchObject({ reasons: ['TIMEOUT'], exitCodes: [] });
  });
});

describe('output text match', () => {
  it('ignores the case of ASCII letters only; wildcards are characters', () => {
    expect(asciiLower('ABC Äx')).toBe('abc Äx');
    expect(matchesText('Connection REFUSED', 'connection refused')).toBe(true);
    expect(matchesText('GRÜSSE', 'grüsse')).toBe(false);
    expect(matchesText('100% done', '0%')).toBe(true);
    expect(matchesText('1x0', '1_0')).toBe(false);
    expect(matchesText('anything', '')).toBe(false);
  });

  it('returns the matching lines, cut around the match when long', () => {
    expect(matchingLines('a\nfound ERROR here\nb\nerror again\n', 'error')).toEqual([
      { text: 'found ERROR here', at: 6 },
      { text: 'error again', at: 0 },
    ]);
    expect(matchingLines('x error\ny error\nz error', 'error', 2)).toHaveLength(2);
    const long = `${'a'.repeat(500)}NEEDLE${'b'.repeat(500)}`;
    const [line] = matchingLines(long, 'needle', 5, 40);
    expect(line?.text.length).toBeLessThanOrEqual(42);
    expect(line?.text.startsWith('…')).toBe(true);
    expect(line?.text.slice(line.at, line.at + 6)).toBe('NEEDLE');
  });
});
