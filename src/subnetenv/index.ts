export { formatSubnetEnv, parseSubnetEnv, writeSubnetEnv, type SubnetEnv } from './subnet-env.ts';
