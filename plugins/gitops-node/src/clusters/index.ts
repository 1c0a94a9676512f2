export * from './clusters';
