// The access each notary-server route needs (notary-protocol §4.1 "auth actions", §4.9, §8
// quirk 13), and how a token's grants are matched against it (docker/distribution token
// accessSet semantics).
//
// Rules:
//   - routes with a GUN need `repository:<gun>` with every listed action;
//   - routes without a GUN (`/v2/`, the global changefeed, the catch-all 404) need
//     `registry:catalog:*` — Go builds the catalog record whenever the GUN is empty, whatever
//     actions the route declares;
//   - health and metrics need nothing;
//   - a grant matches on exact (type, name); the action `*` in a grant covers every action.

export type ResourceType = 'repository' | 'registry';

export interface Access {
  type: ResourceType;
  name: string;
  actions: readonly string[];
}

/** Route ids: Go's metric operation names, plus the routes Go does not instrument. */
export type RouteId =
  | 'Main' // GET /v2/
  | 'UpdateTUF' // POST /v2/<gun>/_trust/tuf/
  | 'GetRoleByHash'
  | 'GetRoleByVersion'
  | 'GetRole'
  | 'GetKey' // GET …/<snapshot|timestamp>.key
  | 'RotateKey' // POST …/<snapshot|timestamp>.key
  | 'DeleteTUF'
  | 'Changefeed' // GET /v2/<gun>/_trust/changefeed
  | 'GlobalChangefeed' // GET /v2/_trust/changefeed
  | 'Health'
  | 'Metrics'
  | 'NotFound'; // the catch-all

/** Actions per route in Go's registration order (server/server.go); null = no auth at all. */
const ROUTE_ACTIONS: Readonly<Record<RouteId, readonly string[] | null>> = {
  Main: [],
  UpdateTUF: ['push', 'pull'],
  GetRoleByHash: ['pull'],
  GetRoleByVersion: ['pull'],
  GetRole: ['pull'],
  GetKey: ['push', 'pull'],
  RotateKey: ['*'],
  DeleteTUF: ['*'],
  Changefeed: ['pull'],
  GlobalChangefeed: ['*'],
  Health: null,
  Metrics: null,
  NotFound: [],
};

export const CATALOG_ACCESS: Access = Object.freeze({
  type: 'registry',
  name: 'catalog',
  actions: Object.freeze(['*']),
});

/** What a request to `route` for `gun` must be granted; [] when the route needs no auth. */
export function requiredAccess(route: RouteId, gun?: string): Access[] {
  const actions = ROUTE_ACTIONS[route];
  if (actions === null) return [];
  if (!gun) return [CATALOG_ACCESS];
  return [{ type: 'repository', name: gun, actions }];
}

/** `type:name:a1,a2` — the scope grammar of the challenge and of token requests. */
export function scopeString(access: Access): string {
  return `${access.type}:${access.name}:${access.actions.join(',')}`;
}

/**
 * Parses one `type:name:actions` scope. The name may itself contain `:` (a registry host with
 * a port), so the type ends at the first colon and the actions start after the last one.
 * Returns undefined for anything that is not a repository or registry scope.
 */
export function parseScope(scope: string): Access | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last === first) return undefined;
  const type = scope.slice(0, first);
  const name = scope.slice(first + 1, last);
  if ((type !== 'repository' && type !== 'registry') || name === '') return undefined;
  const actions = [...new Set(scope.slice(last + 1).split(','))].filter((a) => a !== '');
  return { type, name, actions };
}

/** Every (resource, action) of `required` is covered by `granted`. */
export function isGranted(granted: readonly Access[], required: readonly Access[]): boolean {
  return required.every((need) => {
    const have = new Set<string>();
    for (const g of granted)
      if (g.type === need.type && g.name === need.name) for (const a of g.actions) have.add(a);
    return have.has('*') || need.actions.every((a) => have.has(a));
  });
}
