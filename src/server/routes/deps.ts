import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { Store } from '../../store/store.js';
import type { Bus } from '../bus.js';
import type { FleetService } from '../fleet-service.js';
import type { ServerSettings } from '../settings.js';
import type { TaskService } from '../task-service.js';

export interface RouteDeps {
  store: Store;
  bus: Bus;
  service: TaskService;
  fleet: FleetService;
  settings: ServerSettings;
  clock: () => number;
  version: string;
}

export type App = FastifyInstance;

export function typed(app: FastifyInstance) {
  return app.withTypeProvider<TypeBoxTypeProvider>();
}
