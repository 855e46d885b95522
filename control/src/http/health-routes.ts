import { createRoute, z } from '@hono/zod-openapi';
import { CONTROL_SERVICE_NAME, CONTROL_VERSION } from '../service.js';
import { createRouter } from './router.js';

const HealthSchema = z
  .object({
    ok: z.literal(true),
    service: z.literal(CONTROL_SERVICE_NAME),
    version: z.string().openapi({ example: '0.1.0' }),
  })
  .openapi('Health');

const healthRoute = createRoute({
  method: 'get',
  path: '/healthz',
  tags: ['health'],
  summary: 'Liveness: the Worker runs and its configuration is valid (503 misconfigured otherwise)',
  responses: { 200: { description: 'Healthy', content: { 'application/json': { schema: HealthSchema } } } },
});

export function healthRoutes() {
  return createRouter().openapi(healthRoute, function healthz(c) {
    c.header('Cache-Control', 'no-store');
    return c.json({ ok: true as const, service: CONTROL_SERVICE_NAME, version: CONTROL_VERSION }, 200);
  });
}
