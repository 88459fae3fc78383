import { lazy } from 'react';
import type { Route } from './router';
import type { NavItem } from './routes';
import './ops.css';

/**
 * The operator pages: vault, audit, teams, bridges, batches, output search, a
 * machine's history, alerts and channels, schedules. Each is its own chunk,
 * loaded on first visit, so the first load stays small.
 */
const Vault = lazy(() => import('./pages/vault'));
const Audit = lazy(() => import('./pages/audit'));
const Teams = lazy(() => import('./pages/teams'));
const Bridges = lazy(() => import('./pages/bridges'));
const Batches = lazy(() => import('./pages/batches'));
const Batch = lazy(() => import('./pages/batch'));
const MachineHistory = lazy(() => import('./pages/machine-history'));
const OutputSearch = lazy(() => import('./pages/output-search'));
const Channels = lazy(() => import('./pages/channels'));
const Schedules = lazy(() => import('./pages/schedules'));

const UUID = '([0-9a-fA-F-]{36})';
const NAME = '([A-Za-z0-9][A-Za-z0-9._%-]{0,200})';

export const OPS_ROUTES: readonly Route[] = [
  { pattern: /^\/batches\/?$/, title: 'Batches', render: () => <Batches /> },
  {
    pattern: new RegExp(`^/batches/${UUID}/?$`),
    title: 'Batch',
    render: ([id]) => <Batch id={id as string} />,
  },
  {
    pattern: new RegExp(`^/machines/${NAME}/?$`),
    title: 'Machine history',
    render: ([name]) => <MachineHistory name={name as string} />,
  },
  { pattern: /^\/search\/?$/, title: 'Search output', render: () => <OutputSearch /> },
  { pattern: /^\/schedules\/?$/, title: 'Schedules', render: () => <Schedules /> },
  { pattern: /^\/alerts\/?$/, title: 'Alerts and channels', render: () => <Channels /> },
  { pattern: /^\/vault\/?$/, title: 'Vault', render: () => <Vault /> },
  { pattern: /^\/teams\/?$/, title: 'Teams', render: () => <Teams /> },
  { pattern: /^\/bridges\/?$/, title: 'Bridges and regions', render: () => <Bridges /> },
  { pattern: /^\/audit\/?$/, title: 'Audit log', render: () => <Audit /> },
];

export const OPS_NAV: readonly NavItem[] = [
  { to: '/batches', label: 'Batches', needs: 'task:read', active: /^\/batches/ },
  { to: '/search', label: 'Search', needs: 'task:read', active: /^\/search/ },
  { to: '/schedules', label: 'Schedules', needs: 'schedule:read', active: /^\/schedules/ },
  { to: '/alerts', label: 'Alerts', needs: 'alert:read', active: /^\/alerts/ },
  { to: '/vault', label: 'Vault', needs: 'vault:list', active: /^\/vault/ },
  { to: '/teams', label: 'Teams', active: /^\/teams/ },
  { to: '/bridges', label: 'Bridges', needs: 'bridge:read', active: /^\/bridges/ },
  { to: '/audit', label: 'Audit', needs: 'audit:read', active: /^\/audit/ },
];
