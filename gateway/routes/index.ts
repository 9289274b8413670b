// Every route module of the gateway, in registration order.
import type { RouteModule } from '../gateway.js';
import { discoveryRoutes } from './discovery.js';
import { tokenRoutes } from './token.js';
import { registrationRoutes } from './registration.js';
import { authorizeRoutes } from './authorize.js';
import { endSessionRoutes } from './end-session.js';
import { connectRoutes } from './connect.js';
import { restBodyCheckRoutes } from './rest-body-check.js';
import { userinfoRoutes } from './userinfo.js';
import { deviceRoutes } from './device.js';
import { parRoutes } from './par.js';
import { protectedResourceRoutes } from './protected-resource.js';
import { healthRoutes } from './health.js';
import { consoleRoutes } from './console.js';

export const ALL_ROUTES: RouteModule[] = [discoveryRoutes, tokenRoutes, registrationRoutes, authorizeRoutes, endSessionRoutes, connectRoutes, restBodyCheckRoutes, userinfoRoutes, deviceRoutes, protectedResourceRoutes, parRoutes, healthRoutes, consoleRoutes];
