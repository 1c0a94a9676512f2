export * from './health';
export * from './components';
