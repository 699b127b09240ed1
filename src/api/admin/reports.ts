import type { Context } from '../../context.js';
import { queryEnum, queryInt, queryString } from '../../http/query.js';
import type { RouteDef } from '../../http/route.js';

const param = (req: { params: unknown }, name: string) => (req.params as Record<string, string>)[name]!;

export const adminReportRoutes = (ctx: Context): RouteDef[] => {
  const svc = ctx.services.reports;
  return [
    // GET /_synapse/admin/v1/event_reports (catalogue §9.1; event_sender_user_id Δ1.122):
    // newest first by default; user_id and room_id match substrings, event_sender_user_id exactly.
    {
      method: 'GET',
      path: '/_synapse/admin/v1/event_reports',
      auth: 'admin',
      handler: async (req) => {
        const from = queryInt(req, 'from', 0);
        const limit = queryInt(req, 'limit', 100);
        const dir = queryEnum(req, 'dir', ['b', 'f'] as const, 'b');
        const page = await svc.listEventReports({
          from,
          limit,
          dir,
          userId: queryString(req, 'user_id'),
          roomId: queryString(req, 'room_id'),
          eventSender: queryString(req, 'event_sender_user_id'),
        });
        return page.next === undefined ? { event_reports: page.items, total: page.total } : { event_reports: page.items, next_token: page.next, total: page.total };
      },
    },
    // GET/DELETE /_synapse/admin/v1/event_reports/<report_id> (catalogue §9.2, §9.3)
    {
      method: 'GET',
      path: '/_synapse/admin/v1/event_reports/:reportId',
      auth: 'admin',
      handler: async (req) => svc.eventReport(param(req, 'reportId')),
    },
    {
      method: 'DELETE',
      path: '/_synapse/admin/v1/event_reports/:reportId',
      auth: 'admin',
      handler: async (req) => {
        await svc.deleteEventReport(param(req, 'reportId'));
        return {};
      },
    },

    // GET /_synapse/admin/v1/user_reports (Synapse 1.152, undocumented; catalogue §9.4)
    {
      method: 'GET',
      path: '/_synapse/admin/v1/user_reports',
      auth: 'admin',
      handler: async (req) => {
        const from = queryInt(req, 'from', 0);
        const limit = queryInt(req, 'limit', 100);
        const dir = queryEnum(req, 'dir', ['b', 'f'] as const, 'b');
        const page = await svc.listUserReports({ from, limit, dir, userId: queryString(req, 'user_id'), targetUserId: queryString(req, 'target_user_id') });
        return page.next === undefined ? { user_reports: page.items, total: page.total } : { user_reports: page.items, next_token: page.next, total: page.total };
      },
    },
    // GET/DELETE /_synapse/admin/v1/user_reports/<report_id> (Synapse 1.152; catalogue §9.4)
    {
      method: 'GET',
      path: '/_synapse/admin/v1/user_reports/:reportId',
      auth: 'admin',
      handler: async (req) => svc.userReport(param(req, 'reportId')),
    },
    {
      method: 'DELETE',
      path: '/_synapse/admin/v1/user_reports/:reportId',
      auth: 'admin',
      handler: async (req) => {
        await svc.deleteUserReport(param(req, 'reportId'));
        return {};
      },
    },
  ];
};
