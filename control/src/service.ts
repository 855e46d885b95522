// Bundled by wrangler/Vite; only `version` ends up in the Worker.
import { version } from '../../package.json';

export const CONTROL_SERVICE_NAME = 'parley-control';
export const CONTROL_VERSION: string = version;
