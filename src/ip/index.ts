export { IPAddress, familyBits, type Family } from './address.ts';
export { Cidr } from './cidr.ts';
export { subnetKey, parseSubnetKey, type SubnetPair } from './subnet-key.ts';
