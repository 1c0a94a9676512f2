export * from './applications';
export * from './crd';
