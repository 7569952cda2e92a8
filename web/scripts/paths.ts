import { join } from 'node:path';

/** Where the dashboard's sources, generated code and build live (web/ in the repository). */
export const WEB_DIR = join(__dirname, '..');
export const REPO_DIR = join(WEB_DIR, '..');
export const SRC_DIR = join(WEB_DIR, 'src');
export const GQL_DIR = join(SRC_DIR, 'gql');
export const DIST_DIR = join(WEB_DIR, 'dist');
export const SUPERGRAPH = join(REPO_DIR, 'schema', 'supergraph.graphql');
/** The first-party persisted-query manifest the build writes and the gateway loads (see docs/edge.md). */
export const DASHBOARD_MANIFEST = join(DIST_DIR, 'persisted-operations.json');
/** Hash of the inputs the build in dist/ was made from; a different hash means dist/ is stale. */
export const BUILD_STAMP = join(DIST_DIR, '.build-stamp');
