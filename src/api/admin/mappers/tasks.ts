import type { Task } from '../../../services/tasks.js';

/** A task as `GET /_synapse/admin/v1/scheduled_tasks` lists it (Synapse 1.130). */
export function scheduledTaskJson(t: Task): Record<string, unknown> {
  return {
    id: t.id,
    action: t.action,
    status: t.status,
    timestamp_ms: t.timestamp,
    resource_id: t.resourceId,
    result: t.result,
    error: t.error,
  };
}
