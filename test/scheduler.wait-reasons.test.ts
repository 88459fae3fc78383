import { describe, expect, it } from 'vitest';
import { type WaitFacts, waitReasons } from '../src/scheduler/wait-reasons.js';

const NOW = 1_700_000_000_000;
const facts = (over: Partial<WaitFacts> = {}): WaitFacts => ({
  status: 'pending',
  priority: 3,
  retryAt: null,
  attempts: 0,
  now: NOW,
  machine: { name: 'web-1', status: 'online', statusSince: NOW - 60_000, running: 0, concurrency: 2 },
  region: 'eu',
  ahead: 0,
  batch: null,
  bridgesOnline: 1,
  criticalReserve: 1,
  ...over,
});
const codes = (f: WaitFacts) => waitReasons(f).map((r) => r.code);

describe('why a task waits', () => {
  it('says nothing holds back a task that is next and has a free slot', () => {
    expect(waitReasons(facts())).toEqual([
      { code: 'STARTING_SOON', text: 'nothing holds it back: a bridge should claim it in a moment' },
    ]);
  });

  it('names busy slots and the tasks ahead', () => {
    const reasons = waitReasons(
      facts({
        ahead: 3,
        machine: { name: 'web-1', status: 'online', statusSince: null, running: 2, concurrency: 2 },
      }),
    );
    expect(reasons.map((r) => r.text)).toEqual([
      'all 2 slots of web-1 are busy',
      '3 waiting tasks on web-1 go first (higher priority or queued earlier)',
    ]);
    expect(waitReasons(facts({ ahead: 1 })).map((r) => r.text)).toEqual([
      '1 waiting task on web-1 goes first (higher priority or queued earlier)',
    ]);
  });

  it('counts the critical reserve for priority 1', () => {
    const busy = { name: 'web-1', status: 'online' as const, statusSince: null, running: 2, concurrency: 2 };
    expect(codes(facts({ priority: 1, machine: busy }))).toEqual(['STARTING_SOON']);
    expect(waitReasons(facts({ priority: 1, machine: { ...busy, running: 3 } }))[0]?.text).toBe(
      'all 3 slots of web-1 (with 1 kept for priority 1) are busy',
    );
  });

  it('blames an offline machine, a missing bridge and a rolling batch', () => {
    const offline = {
      name: 'db-1',
      status: 'offline' as const,
      statusSince: NOW - 5 * 60_000,
      running: 0,
      concurrency: 1,
    };
    expect(waitReasons(facts({ machine: offline })).map((r) => r.text)).toEqual([
      'machine db-1 has been offline for 5 min',
    ]);
    expect(codes(facts({ bridgesOnline: 0 }))).toEqual(['NO_BRIDGE']);
    expect(codes(facts({ batch: { maxRunning: 2, running: 2, halted: false } }))).toEqual(['BATCH_LIMIT']);
    expect(codes(facts({ batch: { maxRunning: 2, running: 1, halted: false } }))).toEqual(['STARTING_SOON']);
    expect(codes(facts({ batch: { maxRunning: null, running: 9, halted: true } }))).toEqual(['BATCH_HALTED']);
  });

  it('explains a selector task, a retry delay, a claimed and a stopping task; nothing for others', () => {
    expect(codes(facts({ machine: null, ahead: 2 }))).toEqual(['NO_MATCH_YET', 'QUEUE_AHEAD']);
    expect(waitReasons(facts({ status: 'retrying', attempts: 2, retryAt: NOW + 30_000 }))).toEqual([
      { code: 'RETRY_DELAY', text: 'attempt 2 failed; the next attempt is due in 30 s' },
    ]);
    expect(codes(facts({ status: 'assigned' }))).toEqual(['CLAIMED']);
    expect(codes(facts({ status: 'cancelling' }))).toEqual(['STOPPING']);
    for (const status of ['running', 'completed', 'failed', 'cancelled'] as const) {
      expect(waitReasons(facts({ status }))).toEqual([]);
    }
  });
});
