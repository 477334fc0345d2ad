export * from './types';
export * from './duration';
export * from './messages';
export * from './ids';
export * from './search-attributes';
export * from './steps';
export * from './errors';
export * from './events';
