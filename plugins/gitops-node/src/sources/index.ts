export * from './tagPolicy';
export * from './oci';
export * from './git';
export * from './setters';
export * from './template';
export * from './automation';
export * from './build';
export * from './prepare';
