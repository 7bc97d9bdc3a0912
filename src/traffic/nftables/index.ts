export { NftablesEngine } from './engine.ts';
export { NFT_TABLES, masqChain, forwardChain, replaceScript, deleteScript, type NftTable, type NftChainSpec } from './script.ts';
export { parseListing, type ListedTable, type ListedChain } from './listing.ts';
export { diffTable } from './compare.ts';
