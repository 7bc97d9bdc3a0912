/**
 * @module backend/vxlan/backend-data
 * The vxlan lease BackendData, as upstream writes it: {"VNI":1,"VtepMAC":"aa:bb:cc:dd:ee:ff"}.
 */
import { z } from 'zod';
import type { JsonValue } from '../../lease/index.ts';
import { isMac, type Mac } from '../../kernel/index.ts';
import { shortJson } from '../backend-config.ts';

export interface VxlanLeaseData {
  readonly vni: number;
  readonly vtepMac: Mac;
}

const Schema = z.object({
  VNI: z.number().int().min(0),
  VtepMAC: z.string().refine(isMac, 'not a MAC address'),
});

/** Key order matters to byte-for-byte comparisons of lease values: VNI, then VtepMAC. */
export function encodeVxlanData(d: VxlanLeaseData): JsonValue {
  return { VNI: d.vni, VtepMAC: d.vtepMac };
}

/** The decoded data, or why it cannot be used. */
export function decodeVxlanData(value: JsonValue | undefined): VxlanLeaseData | { problem: string } {
  if (value === undefined || value === null) return { problem: 'no VNI and VtepMAC' };
  const parsed = Schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { problem: `${shortJson(value)}: ${issue?.path.join('.') || 'value'}: ${issue?.message ?? 'invalid'}` };
  }
  return { vni: parsed.data.VNI, vtepMac: parsed.data.VtepMAC.toLowerCase() };
}
