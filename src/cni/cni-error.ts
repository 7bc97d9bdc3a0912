/**
 * @module cni/cni-error
 * The CNI error result: `{"cniVersion", "code", "msg", "details"}` on stdout, exit status 1.
 * Codes 1-99 are the spec's well-known ones; 100+ are plugin-specific (upstream flannel uses 999).
 */
import { FlannelError } from '../errors/index.ts';

export const CniCode = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  UnknownContainer: 3,
  InvalidEnvironment: 4,
  IOFailure: 5,
  DecodingFailure: 6,
  InvalidNetworkConfig: 7,
  TryAgainLater: 11,
  PluginNotAvailable: 50,
  LimitedConnectivity: 51,
  Internal: 999,
} as const;
export type CniCodeValue = (typeof CniCode)[keyof typeof CniCode];

export interface CniErrorJson {
  cniVersion: string;
  code: number;
  msg: string;
  details: string;
}

/** A failure reported to the runtime as a CNI error result. `code` (string) is `E_CNI_<n>`. */
export class CniError extends FlannelError {
  readonly cniCode: number;
  readonly details: string;

  constructor(cniCode: number, msg: string, details = '', options: { hint?: string; cause?: unknown } = {}) {
    super(`E_CNI_${cniCode}`, msg, options);
    this.cniCode = cniCode;
    this.details = details;
  }

  toResult(cniVersion: string): CniErrorJson {
    return { cniVersion, code: this.cniCode, msg: this.message, details: this.details };
  }
}

/** Any thrown value as a CNI error: CniErrors as they are, anything else as code 999. */
export function asCniError(err: unknown): CniError {
  if (err instanceof CniError) return err;
  if (err instanceof Error) return new CniError(CniCode.Internal, err.message, '', { cause: err });
  return new CniError(CniCode.Internal, String(err));
}
