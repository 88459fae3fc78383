import type { ReactNode } from 'react';
import { shortId } from '../format';
import { Link } from '../router';

/** A column's head: its label, or the label and a class (e.g. hide-narrow); null or false leaves it out. */
export type Column = string | { label: string; className?: string } | null | false;

/** A table's head row: an optional first cell of its own (e.g. a select-all box), then the columns. */
export function TableHead({ columns, lead }: { columns: readonly Column[]; lead?: ReactNode }) {
  return (
    <thead>
      <tr>
        {lead}
        {columns.map((c) => {
          if (c === null || c === false) return null;
          const { label, className } = typeof c === 'string' ? { label: c, className: undefined } : c;
          return (
            <th key={label} scope="col" className={className}>
              {label}
            </th>
          );
        })}
      </tr>
    </thead>
  );
}

/**
 * A list as a table in its scrolling wrapper: the head, a row per item, and once the list has loaded
 * and is empty one row saying so (spanning every column the table may have, left-out ones included).
 */
export function DataTable<T>({
  rows,
  columns,
  lead,
  empty,
  children,
  label,
  testId,
  className,
  busy,
  wrap = 'table-wrap',
}: {
  /** undefined while loading: no empty row then. */
  rows: readonly T[] | undefined;
  columns: readonly Column[];
  lead?: ReactNode;
  empty: ReactNode;
  children: (row: T) => ReactNode;
  label?: string;
  testId?: string;
  className?: string;
  busy?: boolean;
  wrap?: string;
}) {
  return (
    <div className={wrap}>
      <table className={className} aria-label={label} aria-busy={busy} data-testid={testId}>
        <TableHead columns={columns} lead={lead} />
        <tbody>
          {(rows ?? []).map(children)}
          {rows !== undefined && rows.length === 0 ? (
            <tr>
              <td colSpan={columns.length + (lead === undefined ? 0 : 1)} className="muted">
                {empty}
              </td>
            </tr>
          ) : null}
        </tbody>
      </table>
    </div>
  );
}

/** A cell with a link to a task or batch, showing the short id (the whole id on hover). */
export function IdCell({ id, to }: { id: string; to: string }) {
  return (
    <td>
      <Link to={to} title={id}>
        <code>{shortId(id)}</code>
      </Link>
    </td>
  );
}
