import { lazy } from 'react';
import type { Permission } from '../../src/server/permissions';
import { OPS_NAV, OPS_ROUTES } from './ops-routes';
import type { Route } from './router';

/**
 * Every page of the dashboard: its URL, what it renders, its title. Pages are
 * separate files under pages/, loaded when first visited, so the first load
 * stays small. To add a page: a file in pages/, a route here, and (if it
 * belongs in the menu) an entry in NAV.
 */
const Overview = lazy(() => import('./pages/overview'));
const Tasks = lazy(() => import('./pages/tasks'));
const TaskDetail = lazy(() => import('./pages/task-detail'));
const NewTask = lazy(() => import('./pages/new-task'));
const Machines = lazy(() => import('./pages/machines'));
const NotFound = lazy(() => import('./pages/not-found'));

const UUID = '([0-9a-fA-F-]{36})';

export const ROUTES: readonly Route[] = [
  { pattern: /^\/$/, title: 'Overview', render: () => <Overview /> },
  { pattern: /^\/tasks\/?$/, title: 'Tasks', render: () => <Tasks /> },
  { pattern: /^\/tasks\/new\/?$/, title: 'New task', render: () => <NewTask /> },
  {
    pattern: new RegExp(`^/tasks/${UUID}/?$`),
    title: 'Task',
    render: ([id]) => <TaskDetail id={id as string} />,
  },
  { pattern: /^\/machines\/?$/, title: 'Machines', render: () => <Machines /> },
  // Vault, audit, teams, bridges, batches, search, machine history, alerts, schedules (ops-routes.tsx).
  ...OPS_ROUTES,
  { pattern: /.*/, title: 'Not found', render: () => <NotFound /> },
];

export interface NavItem {
  to: string;
  label: string;
  /** Shown only to users who hold this permission in some team. */
  needs?: Permission;
  /** Paths that highlight this item. */
  active: RegExp;
}

export const NAV: readonly NavItem[] = [
  { to: '/', label: 'Overview', active: /^\/$/ },
  { to: '/tasks', label: 'Tasks', active: /^\/tasks(?!\/new)/ },
  { to: '/tasks/new', label: 'New task', needs: 'task:create', active: /^\/tasks\/new/ },
  { to: '/machines', label: 'Machines', active: /^\/machines/ },
  ...OPS_NAV,
];
