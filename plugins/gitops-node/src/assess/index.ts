export * from './health';
export * from './components';
export * from './rollout';
export * from './readySince';
export * from './images';
