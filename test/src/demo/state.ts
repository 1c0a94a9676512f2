/*
 * What `./run start` leaves for `yarn demo:release` (and a person) to find the
 * running demo: mode 0600, under the cache dir, removed when the demo stops.
 */
import fs from 'node:fs';
import path from 'node:path';
import { cacheDir } from '../infra/process';

export interface DemoState {
  pid: number;
  /** The demo process's release endpoint (127.0.0.1), behind `token`. */
  controlUrl: string;
  token: string;
  kubeconfig: string;
  kubectl: string;
  gitUrl: string;
  /** The Git server's bare repositories, to read the log without credentials. */
  gitRoot: string;
  image: string;
  /** The seed's Ingress (Traefik) and its `curl`, when a real node runs the pods. */
  ingress?: { url: string; host: string; curl: string };
}

export const demoStateFile = () => path.join(cacheDir(), 'demo', 'demo.json');

export function readDemoState(): DemoState | undefined {
  try {
    return JSON.parse(fs.readFileSync(demoStateFile(), 'utf8'));
  } catch {
    return undefined;
  }
}

export function isDemoRunning(state: DemoState): boolean {
  try {
    return fs
      .readFileSync(`/proc/${state.pid}/cmdline`, 'utf8')
      .includes('demo/start');
  } catch {
    return false;
  }
}
