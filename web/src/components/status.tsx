import type { TaskStatus } from '../types';

export function StatusBadge({ status }: { status: TaskStatus | string }) {
  return <span className={`badge st-${status}`}>{status}</span>;
}

export function MachineStatus({ status }: { status: string }) {
  return <span className={`badge m-${status}`}>{status}</span>;
}

export function PriorityBadge({ priority, label }: { priority: number; label?: string }) {
  return (
    <span className={`badge p${priority}`} title={label}>
      {priority}
      {label === undefined ? '' : ` ${label}`}
    </span>
  );
}

export function ErrorNote({ error }: { error: Error | null | undefined }) {
  if (error === null || error === undefined) return null;
  return (
    <p className="error" role="alert">
      {error.message}
    </p>
  );
}
