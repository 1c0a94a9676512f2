import { describeDiagnostic, Tofu } from './tofu';

describe('Tofu', () => {
  it('says in one line how to get tofu when it is missing', async () => {
    await expect(
      new Tofu({ tofuPath: '/nonexistent/tofu' }).path(),
    ).rejects.toThrow(
      'The tofu binary configured at /nonexistent/tofu does not exist or is not executable (gitops.tofuPath)',
    );
    const path = process.env.PATH;
    const fromEnv = process.env.GITOPS_TOFU;
    process.env.PATH = '/nonexistent';
    delete process.env.GITOPS_TOFU;
    try {
      await expect(new Tofu().path()).rejects.toThrow(
        /^OpenTofu \(tofu\) was not found on PATH: build it with `scripts\/build-k8s.sh --tofu`/,
      );
    } finally {
      process.env.PATH = path;
      if (fromEnv !== undefined) process.env.GITOPS_TOFU = fromEnv;
    }
  });

  it('names the file and line, and the resource, of a diagnostic', () => {
    expect(
      describeDiagnostic({
        severity: 'error',
        summary: 'Invalid expression',
        detail: 'Expected the start of an expression.\nMore.',
        file: 'main.tf',
        line: 2,
      }),
    ).toBe(
      'main.tf line 2: Invalid expression: Expected the start of an expression.',
    );
    expect(
      describeDiagnostic({
        severity: 'error',
        summary: 'local-exec provisioner error',
        file: 'main.tf',
        line: 9,
        address: 'terraform_data.migrate',
      }),
    ).toBe(
      'main.tf line 9, terraform_data.migrate: local-exec provisioner error',
    );
  });
});
