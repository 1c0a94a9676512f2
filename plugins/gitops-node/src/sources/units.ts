/** A byte count for error messages: `1.5 MiB`, `12 KiB`. */
export function formatBytes(bytes: number): string {
  const mib = bytes / (1024 * 1024);
  return mib >= 1 ? `${+mib.toFixed(1)} MiB` : `${Math.ceil(bytes / 1024)} KiB`;
}
