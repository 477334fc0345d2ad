export * from './types';
export * from './messages';
export * from './ids';
export * from './search-attributes';
export * from './steps';
export * from './errors';
export * from './events';
