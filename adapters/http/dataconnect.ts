/**
 * The `dataconnect` preset of the `http` adapter: Enedis Data Connect's metering data API (v5), as
 * published by Enedis. One series per usage point (PRM, the meter's 14 digits, also in the identifier)
 * and measure:
 *
 * | series path                      | endpoint                                      | per call | stamped at                      |
 * |----------------------------------|-----------------------------------------------|----------|---------------------------------|
 * | consumption/power/active/raw     | /metering_data_clc/v5/consumption_load_curve  | 7 days   | interval start (`date` − `interval_length`) |
 * | consumption/energy/active/daily  | /metering_data_dc/v5/daily_consumption        | 365 days | the day's local midnight        |
 * | consumption/power/apparent/max   | /metering_data_dcmp/v5/daily_consumption_max_power | 365 days | the day's local midnight  |
 * | production/power/active/raw      | /metering_data_plc/v5/production_load_curve   | 7 days   | interval start                  |
 * | production/energy/active/daily   | /metering_data_dp/v5/daily_production         | 365 days | the day's local midnight        |
 *
 * Calls: `GET {base_url}{endpoint}?usage_point_id=PRM&start=YYYY-MM-DD&end=YYYY-MM-DD` (end excluded,
 * days in Europe/Paris) with an OAuth2 client-credentials token (`POST {base_url}/oauth2/v3/token`).
 * Answers: `{"meter_reading": {"usage_point_id", "start", "end", "reading_type": {"unit", …},
 * "interval_reading": [{"value": "540", "date": "2019-05-06 03:00:00", "interval_length": "PT30M"}]}}`;
 * a load curve's `date` is the END of its interval, in local time without offset.
 *
 * Errors come as `{"error": "ADAM-…", "error_description": "…"}`. The ones saying the customer's
 * authorization is gone — no consent for this usage point (ADAM-DC-0008), or the customer no longer
 * holds it (ADAM-DC-0007), as when the customer changes supplier and the authorizations are wiped —
 * become `consent-invalidated` (adapters/contract.ts). A 404 for one window means no data there.
 */
import type { Meta } from '../../component/quoalise/types.js';

export const DATACONNECT_ISSUER = 'enedis';
export const DATACONNECT_ZONE = 'Europe/Paris';
export const DATACONNECT_BASE_URL = 'https://gw.ext.prod.api.enedis.fr';
export const DATACONNECT_TOKEN_PATH = '/oauth2/v3/token';

/** Data Connect error codes meaning the data subject's authorization is gone for good. */
export const CONSENT_GONE: ReadonlyMap<string, string> = new Map([
  ['ADAM-DC-0008', 'no consent for this customer and usage point'],
  ['ADAM-DC-0007', 'the customer no longer holds this usage point (e.g. after a change of supplier)'],
]);

export interface Measure {
  endpoint: string;
  /** Days per call at most. */
  maxDays: number;
  /** `curve`: timed readings stamped at their interval's end; `daily`: one reading per day. */
  shape: 'curve' | 'daily';
  measurement: Meta;
}

const electrical = (name: string, direction: string, quantity: string, unit: string, aggregation: string, interval: string): Meta => ({
  name,
  direction,
  quantity,
  type: 'electrical',
  unit,
  aggregation,
  'sampling-interval': interval,
});

export const MEASURES: ReadonlyMap<string, Measure> = new Map([
  ['consumption/power/active/raw', { endpoint: '/metering_data_clc/v5/consumption_load_curve', maxDays: 7, shape: 'curve', measurement: electrical('active-power', 'consumption', 'power', 'W', 'mean', 'PT30M') }],
  ['consumption/energy/active/daily', { endpoint: '/metering_data_dc/v5/daily_consumption', maxDays: 365, shape: 'daily', measurement: electrical('active-energy', 'consumption', 'energy', 'Wh', 'sum', 'P1D') }],
  ['consumption/power/apparent/max', { endpoint: '/metering_data_dcmp/v5/daily_consumption_max_power', maxDays: 365, shape: 'daily', measurement: electrical('apparent-power', 'consumption', 'power', 'VA', 'max', 'P1D') }],
  ['production/power/active/raw', { endpoint: '/metering_data_plc/v5/production_load_curve', maxDays: 7, shape: 'curve', measurement: electrical('active-power', 'production', 'power', 'W', 'mean', 'PT30M') }],
  ['production/energy/active/daily', { endpoint: '/metering_data_dp/v5/daily_production', maxDays: 365, shape: 'daily', measurement: electrical('active-energy', 'production', 'energy', 'Wh', 'sum', 'P1D') }],
] satisfies Array<[string, Measure]>);

export function dataconnectMeta(prm: string, measure: Measure): Meta {
  return { device: { type: 'electricity-meter', identifier: { authority: 'enedis', type: 'prm', value: prm } }, measurement: measure.measurement };
}

/** `{"error": code, "error_description": text}` of a Data Connect error answer, if that is its shape. */
export function dataconnectError(body: unknown): { code: string; description: string } | null {
  const b = body as { error?: unknown; error_description?: unknown } | null;
  if (!b || typeof b.error !== 'string') return null;
  return { code: b.error, description: typeof b.error_description === 'string' ? b.error_description : '' };
}
