/**
 * @module exec
 * Running outside commands (iptables-restore, nft, ethtool, extension commands) behind one seam.
 */
export { COMMAND_NOT_FOUND, commandLine, execRunner, netnsRunner, type CommandRunner, type RunOptions, type RunResult } from './runner.ts';
export { recordingRunner, type RecordedCall, type RecordingRunner, type Responder } from './recording-runner.ts';
