import { useEffect, useMemo, useState } from 'react';
import { ACTIVE_STATUSES, FINAL_STATUSES } from '../../../src/core/types';
import { api } from '../api';
import { useAuth } from '../auth';
import { can } from '../permissions';
import type { Task } from '../types';
import { ErrorNote } from './status';

/**
 * Bulk cancel and retry on the tasks list: a checkbox per row and one for the
 * page, and the actions for what is selected. Each task is checked against
 * the caller's role in its own team; the API refuses the rest anyway.
 */

const PARALLEL = 4;

export interface Selection {
  /** Whether the user may cancel or retry anything: without it there are no checkboxes. */
  enabled: boolean;
  ids: ReadonlySet<string>;
  toggle: (id: string) => void;
  setAll: (ids: string[], on: boolean) => void;
  clear: () => void;
}

export function useTaskSelection(tasks: readonly Task[]): Selection {
  const { me } = useAuth();
  const [ids, setIds] = useState<ReadonlySet<string>>(new Set());
  const enabled = can(me ?? null, 'task:cancel') || can(me ?? null, 'task:retry');
  const shown = tasks.map((t) => t.taskId).join();
  // Only tasks on this page stay selected (`shown` stands for the page's tasks).
  useEffect(() => {
    const here = new Set(shown.split(','));
    setIds((s) => {
      const kept = [...s].filter((id) => here.has(id));
      return kept.length === s.size ? s : new Set(kept);
    });
  }, [shown]);
  return useMemo(
    () => ({
      enabled,
      ids,
      toggle: (id: string) =>
        setIds((s) => {
          const n = new Set(s);
          if (n.has(id)) n.delete(id);
          else n.add(id);
          return n;
        }),
      setAll: (all: string[], on: boolean) => setIds(on ? new Set(all) : new Set()),
      clear: () => setIds(new Set()),
    }),
    [enabled, ids],
  );
}

export function SelectAllHeader({ sel, tasks }: { sel: Selection; tasks: readonly Task[] }) {
  if (!sel.enabled) return null;
  const all = tasks.length > 0 && tasks.every((t) => sel.ids.has(t.taskId));
  return (
    <th scope="col" className="ops-select">
      <input
        type="checkbox"
        aria-label="Select all tasks on this page"
        checked={all}
        onChange={(e) =>
          sel.setAll(
            tasks.map((t) => t.taskId),
            e.target.checked,
          )
        }
      />
    </th>
  );
}

export function SelectCell({ sel, task }: { sel: Selection; task: Task }) {
  if (!sel.enabled) return null;
  return (
    <td className="ops-select">
      <input
        type="checkbox"
        aria-label={`Select task ${task.taskId.slice(0, 8)}`}
        checked={sel.ids.has(task.taskId)}
        onChange={() => sel.toggle(task.taskId)}
      />
    </td>
  );
}

/** Runs `fn` over `items`, a few at a time; collects what failed. */
async function each<T>(
  items: readonly T[],
  fn: (item: T) => Promise<unknown>,
): Promise<{ item: T; error: Error }[]> {
  const failed: { item: T; error: Error }[] = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (err) {
        failed.push({ item, error: err as Error });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, items.length) }, worker));
  return failed;
}

export function BulkActions({
  sel,
  tasks,
  onDone,
}: {
  sel: Selection;
  tasks: readonly Task[];
  onDone: () => void;
}) {
  const { me } = useAuth();
  const [busy, setBusy] = useState(false);
  const [report, setReport] = useState<{ text: string; error: Error | null } | null>(null);
  if (!sel.enabled) return null;
  const chosen = tasks.filter((t) => sel.ids.has(t.taskId));
  const cancellable = chosen.filter(
    (t) =>
      ACTIVE_STATUSES.includes(t.status) &&
      t.status !== 'cancelling' &&
      can(me ?? null, 'task:cancel', t.team),
  );
  const retryable = chosen.filter(
    (t) => FINAL_STATUSES.includes(t.status) && can(me ?? null, 'task:retry', t.team),
  );
  const act = async (
    verb: 'cancelled' | 'queued again',
    list: Task[],
    fn: (id: string) => Promise<unknown>,
  ) => {
    setBusy(true);
    setReport(null);
    const failed = await each(list, (t) => fn(t.taskId));
    setBusy(false);
    sel.clear();
    onDone();
    const ok = list.length - failed.length;
    setReport({
      text: `${ok} ${verb}${failed.length === 0 ? '' : `, ${failed.length} refused`}`,
      error:
        failed.length === 0
          ? null
          : new Error(failed.map((f) => `${f.item.taskId.slice(0, 8)}: ${f.error.message}`).join('; ')),
    });
  };
  if (chosen.length === 0 && report === null) return null;
  return (
    <section className="ops-bulk" aria-label="Selected tasks">
      {chosen.length === 0 ? null : (
        <>
          <span>{chosen.length} selected</span>
          <button
            type="button"
            className="danger"
            disabled={busy || cancellable.length === 0}
            onClick={() => void act('cancelled', cancellable, api.cancelTask)}
          >
            Cancel {cancellable.length}
          </button>
          <button
            type="button"
            disabled={busy || retryable.length === 0}
            onClick={() => void act('queued again', retryable, api.retryTask)}
          >
            Retry {retryable.length}
          </button>
          <button type="button" className="link" onClick={sel.clear}>
            Clear selection
          </button>
        </>
      )}
      {report === null ? null : (
        <output>
          {report.text}{' '}
          <button type="button" className="link" onClick={() => setReport(null)}>
            dismiss
          </button>
        </output>
      )}
      {report === null ? null : <ErrorNote error={report.error} />}
    </section>
  );
}
