/** The lab's namespace helpers serve the tests too: one implementation. */
export * from '../../src/lab/netns.ts';
