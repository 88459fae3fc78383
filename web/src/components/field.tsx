import { type ReactNode, useId } from 'react';

/**
 * A labelled control whose label is tied by id, not by nesting: a select
 * nested in its label would have its chosen option read as part of its name.
 */
export function Field({
  label,
  className,
  children,
}: {
  label: string;
  className?: string;
  children: (id: string) => ReactNode;
}) {
  const id = useId();
  return (
    <div className={`field${className === undefined ? '' : ` ${className}`}`}>
      <label htmlFor={id}>{label}</label>
      {children(id)}
    </div>
  );
}
