import { type FormEvent, useState } from 'react';
import { useAuth } from '../auth';
import { DataTable } from '../components/data-table';
import { ConfirmButton, ConfirmDelete, Lead, useAction } from '../components/ops-ui';
import { ErrorNote } from '../components/status';
import { ago } from '../format';
import { useLive } from '../live';
import { type Member, opsApi } from '../ops-api';
import { can } from '../permissions';
import type { Me } from '../types';

const ROLES = ['viewer', 'operator', 'maintainer'] as const;
const ROLE_TEXT: Record<string, string> = {
  viewer: 'sees the team’s tasks, machines and vault key names',
  operator: 'also creates, cancels and retries tasks and reads vault values',
  maintainer: 'also manages machines, members, vault values and channels',
};

/** Teams with their members and roles; admins create and delete teams, maintainers manage members. */
export default function Teams() {
  const { me } = useAuth();
  const teams = useLive(() => opsApi.teams(), [], { pollMs: 60_000 });
  const isAdmin = can(me ?? null, 'team:write');
  return (
    <>
      <div className="page-head">
        <h1>Teams</h1>
      </div>
      <Lead>
        Roles: {ROLES.map((r) => `${r} ${ROLE_TEXT[r]}`).join('; ')}. Admins may do everything in every team.
      </Lead>
      <ErrorNote error={teams.error} />
      {isAdmin ? <CreateTeam onDone={teams.reload} /> : null}
      <div className="ops-cards">
        {(teams.data ?? []).map((t) => (
          <TeamCard
            key={t.name}
            name={t.name}
            createdAt={t.createdAt}
            me={me ?? null}
            onGone={teams.reload}
          />
        ))}
      </div>
    </>
  );
}

function CreateTeam({ onDone }: { onDone: () => void }) {
  const [name, setName] = useState('');
  const action = useAction();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void action.run(async () => {
      await opsApi.createTeam(name.trim());
      setName('');
      onDone();
    });
  };
  return (
    <form className="filters" onSubmit={submit} aria-label="Create a team">
      <label>
        New team
        <input value={name} onChange={(e) => setName(e.target.value)} placeholder="name" required />
      </label>
      <button type="submit" className="primary" disabled={action.busy || name.trim() === ''}>
        Create team
      </button>
      <ErrorNote error={action.error} />
    </form>
  );
}

function TeamCard({
  name,
  createdAt,
  me,
  onGone,
}: {
  name: string;
  createdAt: string | null;
  me: Me | null;
  onGone: () => void;
}) {
  const canSee = can(me, 'member:read', name);
  const canManage = can(me, 'member:write', name);
  const members = useLive(
    () => (canSee ? opsApi.members(name) : Promise.resolve([] as Member[])),
    [name, canSee],
    {
      pollMs: 60_000,
    },
  );
  const myRole = me?.teams.find((t) => t.team === name)?.role;
  return (
    <section className="card" aria-labelledby={`team-${name}`} data-team={name}>
      <div className="page-head">
        <h2 id={`team-${name}`}>{name}</h2>
        <span className="muted small">
          {myRole === undefined ? (me?.admin ? 'admin' : '') : `your role: ${myRole}`} · created{' '}
          {ago(createdAt)}
        </span>
        {can(me, 'team:write') ? (
          <span className="ops-push">
            <ConfirmDelete
              label="Delete team"
              what={`team ${name}`}
              remove={() => opsApi.deleteTeam(name)}
              onGone={onGone}
            />
          </span>
        ) : null}
      </div>
      <ErrorNote error={members.error} />
      <DataTable
        rows={members.data}
        wrap="ops-scroll"
        label={`Members of ${name}`}
        columns={['Member', 'Role', canManage && 'Change']}
        empty="No members (admins reach every team)."
      >
        {(m) => <MemberRow key={m.email} team={name} m={m} canManage={canManage} onChange={members.reload} />}
      </DataTable>
      {canManage ? <AddMember team={name} onDone={members.reload} /> : null}
    </section>
  );
}

function MemberRow({
  team,
  m,
  canManage,
  onChange,
}: {
  team: string;
  m: Member;
  canManage: boolean;
  onChange: () => void;
}) {
  const action = useAction();
  return (
    <tr data-member={m.email}>
      <td>{m.email}</td>
      <td>
        {canManage ? (
          <select
            aria-label={`Role of ${m.email}`}
            value={m.role}
            disabled={action.busy}
            onChange={(e) =>
              void action.run(async () => {
                await opsApi.setMember(team, m.email, e.target.value);
                onChange();
              })
            }
          >
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        ) : (
          m.role
        )}
        <ErrorNote error={action.error} />
      </td>
      {canManage ? (
        <td>
          <ConfirmButton
            label="Remove"
            question={`Remove ${m.email} from ${team}?`}
            yes="Yes, remove"
            onConfirm={async () => {
              await opsApi.removeMember(team, m.email);
              onChange();
            }}
          />
        </td>
      ) : null}
    </tr>
  );
}

function AddMember({ team, onDone }: { team: string; onDone: () => void }) {
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<string>('viewer');
  const action = useAction();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void action.run(async () => {
      await opsApi.setMember(team, email.trim(), role);
      setEmail('');
      onDone();
    });
  };
  return (
    <form className="filters" onSubmit={submit} aria-label={`Add a member to ${team}`}>
      <label className="grow">
        Email of a user
        <input type="email" value={email} onChange={(e) => setEmail(e.target.value)} required />
      </label>
      <label>
        Role
        <select value={role} onChange={(e) => setRole(e.target.value)}>
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
      </label>
      <button type="submit" disabled={action.busy || email.trim() === ''}>
        Add member
      </button>
      <ErrorNote error={action.error} />
    </form>
  );
}
