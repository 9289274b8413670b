export { createGateway, type GatewayContext, type GatewayOptions, type RouteModule } from './gateway.js';
export { ALL_ROUTES } from './routes/index.js';
