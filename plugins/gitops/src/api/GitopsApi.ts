import {
  createApiRef,
  DiscoveryApi,
  FetchApi,
} from '@backstage/core-plugin-api';
import { ResponseError } from '@backstage/errors';
import {
  ApplicationDetails,
  ApplicationRef,
  ClusterListResponse,
} from '@gitops-workflow/plugin-gitops-common';

/** The frontend's view of the gitops backend (`/api/gitops`). */
export interface GitopsApi {
  getClusters(): Promise<ClusterListResponse>;
  getApplication(ref: ApplicationRef): Promise<ApplicationDetails>;
}

export const gitopsApiRef = createApiRef<GitopsApi>({ id: 'plugin.gitops' });

/** {@link GitopsApi} over HTTP, authenticated by the app's fetchApi. */
export class GitopsClient implements GitopsApi {
  constructor(
    private readonly deps: { discoveryApi: DiscoveryApi; fetchApi: FetchApi },
  ) {}

  getClusters(): Promise<ClusterListResponse> {
    return this.get('/clusters');
  }

  getApplication(ref: ApplicationRef): Promise<ApplicationDetails> {
    const query = ref.cluster ? `?cluster=${encodeURIComponent(ref.cluster)}` : '';
    return this.get(
      `/applications/${encodeURIComponent(ref.namespace)}/${encodeURIComponent(ref.name)}${query}`,
    );
  }

  private async get<T>(path: string): Promise<T> {
    const base = await this.deps.discoveryApi.getBaseUrl('gitops');
    const response = await this.deps.fetchApi.fetch(`${base}${path}`);
    if (!response.ok) throw await ResponseError.fromResponse(response);
    return response.json();
  }
}
