import { useEffect, useMemo, useState } from 'react';
import { formatRatio, judgeRun, type UsualJudgement } from '../../../src/history/usual-run';
import { historyApi, type UsualRun } from '../history-api';
import { useLive, useNow } from '../live';

/** Earlier runs change when a task ends; the verdict itself moves with the clock here. */
const USUAL_POLL_MS = 60_000;

interface Fetched {
  run: UsualRun;
  at: number;
}

/**
 * The server's answer judged again as time passes, by the same rule
 * (src/history/usual-run.ts): elapsed = the server's figure plus the time
 * since it answered, so the browser's clock offset does not matter.
 */
export function judgeNow(f: Fetched, now: number): UsualJudgement {
  const { run } = f;
  const elapsed = run.elapsedMs === null ? null : run.elapsedMs + Math.max(0, now - f.at);
  return judgeRun({ runs: run.runs, usualMs: run.usualMs, meanMs: run.meanMs }, elapsed);
}

/** On the task page: "running 2× longer than usual (usual 40 s over 12 runs)", or how long it usually takes. */
export function UsualNote({ taskId, status }: { taskId: string; status: string }) {
  const usual = useLive(
    () => historyApi.taskUsual(taskId).then((run) => ({ run, at: Date.now() })),
    [taskId, status],
    { pollMs: USUAL_POLL_MS },
  );
  const now = useNow();
  if (usual.data === undefined) return <span className="muted">…</span>;
  const j = judgeNow(usual.data, now);
  return (
    <span className={`usual${j.slower ? ' slower' : ''}`} data-testid="usual" data-verdict={j.verdict}>
      {j.text}
    </span>
  );
}

/** For a list: the verdicts of its running tasks, one request for all of them. */
export function useUsualRuns(tasks: readonly { taskId: string; status: string }[]): Map<string, Fetched> {
  const ids = useMemo(
    () =>
      tasks
        .filter((t) => t.status === 'running')
        .map((t) => t.taskId)
        .slice(0, 100),
    [tasks],
  );
  const key = ids.join(',');
  const [found, setFound] = useState(new Map<string, Fetched>());
  useEffect(() => {
    if (key === '') {
      setFound(new Map());
      return;
    }
    let gone = false;
    const load = () =>
      historyApi.tasksUsual(key.split(',')).then(
        (r) => {
          if (gone) return;
          const at = Date.now();
          setFound(new Map(r.tasks.map((run) => [run.taskId, { run, at }])));
        },
        // The list works without it; the next round tries again.
        () => {},
      );
    void load();
    const timer = setInterval(load, USUAL_POLL_MS);
    return () => {
      gone = true;
      clearInterval(timer);
    };
  }, [key]);
  return found;
}

/** In a list row of a running task: "2× usual" in red when it is slower, "as usual" otherwise. */
export function UsualBadge({ fetched }: { fetched: Fetched | undefined }) {
  return fetched === undefined ? null : <Badge fetched={fetched} />;
}

function Badge({ fetched }: { fetched: Fetched }) {
  const now = useNow(5_000);
  const j = judgeNow(fetched, now);
  if (j.verdict !== 'SLOWER' && j.verdict !== 'AS_USUAL') return null;
  return (
    <span className={`usual small${j.slower ? ' slower' : ''}`} title={j.text} data-testid="usual-badge">
      {' '}
      {j.slower && j.ratio !== null ? `${formatRatio(j.ratio)} usual` : j.slower ? 'slower' : 'as usual'}
    </span>
  );
}
