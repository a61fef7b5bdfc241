/**
 * Demo data: a year of half-hourly readings for two meters near Lyon, generated deterministically (a
 * seeded PRNG, no network) in the CSV + meta sidecar that `fedgate store import` reads.
 *   node dist/scripts/demo-data.js --out demo.csv [--year 2024] [--seed 1]
 * writes demo.csv and demo.meta.json.
 *
 * Both series are mean active power in W over each half-hour, stamped at the start of the half-hour
 * (quoalise.md) and evaluated at its middle. Times are written in Europe/Paris with their offset.
 *
 * Shared weather (Lyon, 45.76° N, 4.84° E)
 * - Outdoor temperature: T = 12.5 − 9·cos(2π(day − 15)/365) + 4·cos(2π(hour − 15)/24) + W(day) °C, i.e.
 *   about 3.5 °C mid-January and 21.5 °C mid-July, warmest at 15:00 local; W is a day-to-day weather
 *   anomaly, AR(1): W(d) = 0.8·W(d−1) + N(0, 1.8).
 * - Cloud cover of a day: c(d) = clamp(m(day) + C(d), 0, 1) with a seasonal mean m = 0.6 + 0.2·cos(2π(day − 15)/365)
 *   (cloudier in winter) and an AR(1) anomaly C(d) = 0.6·C(d−1) + N(0, 0.22); each half-hour varies
 *   around it by N(0, 0.12).
 * - Sun: declination δ = 23.44°·sin(2π(284 + day)/365), the equation of time, hour angle from UTC and
 *   longitude; elevation e with sin e = sin φ sin δ + cos φ cos δ cos H.
 *
 * Household (`urn:dev:prm:30001442769830_consumption/power/active/raw`): an all-electric house.
 * - Base load 180 W (fridge, freezer, ventilation, standby).
 * - Activity A(hour) ∈ [0, 1] from an hourly profile, one for working days and one for weekends
 *   (breakfast, lunch at home on weekends, evening peak), linearly interpolated: 950 W × A.
 * - Lighting: 220 W × A when the sun is below 3° of elevation.
 * - Electric heating: 170 W/K × max(0, setpoint − 3 K of internal gains − T), setpoint 19.5 °C from 6:00
 *   to 23:00 and 17 °C at night, capped at 6 kW; heating exists whenever it is cold, hence mostly in winter.
 * - Hot-water tank: 2.2 kW during off-peak hours from 23:30, for 1.5 h in summer up to 2.5 h in winter.
 * - Appliances (washing machine, oven, dishwasher): each half-hour, with probability 0.05·A, +1.2 to 2.2 kW.
 * - Multiplicative noise N(1, 0.08); never below 80 W.
 *
 * School solar production (`urn:dev:prm:30002187651024_production/power/active/raw`): 36 kWp on the roof,
 * 30° tilt, facing south. The school's closed days do not matter: panels produce all the same.
 * - Direct normal irradiance of a clear sky (Meinel): DNI = 1353·0.7^(AM^0.678) W/m², AM = 1/sin e.
 * - On the panels: G = DNI·max(0, cos θ) + 0.1·DNI·(1 + cos 30°)/2 (diffuse), θ the angle of incidence
 *   on a south-facing plane tilted 30°: cos θ = sin δ sin(φ − 30°) + cos δ cos(φ − 30°) cos H.
 * - Clouds (Kasten–Czeplak): G × (1 − 0.75·c^3.4).
 * - Power = 36 kW × G/1000 × 0.8 (inverter, wiring, soiling) × (1 − 0.004·(T_cell − 25)), T_cell = T + 0.03·G.
 * - Exactly 0 W while the sun is down: a zero reading is a reading.
 *
 * With seed 1, 2024 gives about 15 MWh for the household (3.1 kW mean in January, 0.7 kW in July) and
 * 45.6 MWh for the school (1,270 kWh/kWp, peak 26.6 kW): the orders of magnitude of real meters there.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { sidecarPath } from '../adapters/store/csv-import.js';
import type { Meta } from '../component/quoalise/types.js';

const HOUSEHOLD = 'urn:dev:prm:30001442769830_consumption/power/active/raw';
const SCHOOL = 'urn:dev:prm:30002187651024_production/power/active/raw';

const LATITUDE = 45.76;
const LONGITUDE = 4.84;
const ZONE = 'Europe/Paris';
const STEP_S = 1800;
const RAD = Math.PI / 180;

function meta(prm: string, direction: 'consumption' | 'production'): Meta {
  return {
    device: { type: 'electricity-meter', identifier: { authority: 'enedis', type: 'prm', value: prm } },
    measurement: {
      name: 'active-power', direction, quantity: 'power', type: 'electrical', unit: 'W', aggregation: 'mean', 'sampling-interval': 'PT30M',
    },
  };
}

const DEMO_META: Record<string, Meta> = {
  [HOUSEHOLD]: meta('30001442769830', 'consumption'),
  [SCHOOL]: meta('30002187651024', 'production'),
};

/** mulberry32: small, fast, and the same sequence on every machine for a given seed. */
function prng(seed: number): { uniform(): number; normal(mean: number, sd: number): number } {
  let s = seed | 0;
  const uniform = () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  // Box–Muller; 1 − u keeps the logarithm finite.
  const normal = (mean: number, sd: number) => mean + sd * Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  return { uniform, normal };
}

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

// Activity by local hour (index = hour, value at hh:00), interpolated linearly in between.
const WORKDAY = [0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.5, 1, 0.4, 0.1, 0.1, 0.1, 0.25, 0.25, 0.1, 0.1, 0.1, 0.5, 0.8, 1, 1, 0.6, 0.4, 0.2];
const WEEKEND = [0.1, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.2, 0.8, 0.8, 0.6, 0.6, 0.9, 0.9, 0.5, 0.5, 0.5, 0.5, 1, 1, 1, 0.5, 0.5, 0.3];

function activity(hour: number, weekend: boolean): number {
  const table = weekend ? WEEKEND : WORKDAY;
  const h = Math.floor(hour);
  return table[h]! + (table[(h + 1) % 24]! - table[h]!) * (hour - h);
}

interface LocalTime {
  /** Day of the year, 1-based. */
  day: number;
  /** Local hour, fractional. */
  hour: number;
  weekend: boolean;
  /** `2024-01-01T00:00:00+01:00` */
  iso: string;
}

const localFormat = new Intl.DateTimeFormat('en-GB', {
  timeZone: ZONE, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', weekday: 'short',
});

function localTime(epochS: number): LocalTime {
  const p: Record<string, string> = {};
  for (const part of localFormat.formatToParts(new Date(epochS * 1000))) p[part.type] = part.value;
  const wall = Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), Number(p.hour), Number(p.minute), Number(p.second));
  const offsetMin = Math.round((wall - epochS * 1000) / 60_000);
  const sign = offsetMin < 0 ? '-' : '+';
  const off = `${sign}${String(Math.floor(Math.abs(offsetMin) / 60)).padStart(2, '0')}:${String(Math.abs(offsetMin) % 60).padStart(2, '0')}`;
  return {
    day: Math.floor((wall - Date.UTC(Number(p.year), 0, 1)) / 86_400_000) + 1,
    hour: Number(p.hour) + Number(p.minute) / 60 + Number(p.second) / 3600,
    weekend: p.weekday === 'Sat' || p.weekday === 'Sun',
    iso: `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}:${p.second}${off}`,
  };
}

/** Sun position at an instant: sin of the elevation, declination and hour angle (radians). */
function sun(epochS: number, day: number): { sinElevation: number; declination: number; hourAngle: number } {
  const declination = 23.44 * RAD * Math.sin((2 * Math.PI * (284 + day)) / 365);
  const b = (2 * Math.PI * (day - 81)) / 364;
  const equationOfTimeMin = 9.87 * Math.sin(2 * b) - 7.53 * Math.cos(b) - 1.5 * Math.sin(b);
  const utcHour = ((epochS % 86_400) + 86_400) % 86_400 / 3600;
  const solarHour = utcHour + LONGITUDE / 15 + equationOfTimeMin / 60;
  const hourAngle = 15 * RAD * (solarHour - 12);
  const phi = LATITUDE * RAD;
  const sinElevation = Math.sin(phi) * Math.sin(declination) + Math.cos(phi) * Math.cos(declination) * Math.cos(hourAngle);
  return { sinElevation, declination, hourAngle };
}

interface DemoRow {
  identifier: string;
  /** ISO 8601 local time with offset, start of the half-hour. */
  time: string;
  /** Mean power over the half-hour, W. */
  value: number;
}

/** The whole year, both series, in time order. Same seed, same rows. */
function generateDemoData(year: number, seed: number): DemoRow[] {
  const rnd = prng(seed);
  const start = localStart(year);
  const end = localStart(year + 1);
  const rows: DemoRow[] = [];
  let dayIndex = -1;
  let weather = 0;
  let cloudAnomaly = 0;
  let cloudOfDay = 0.5;
  for (let t = start; t < end; t += STEP_S) {
    const mid = t + STEP_S / 2;
    const local = localTime(mid);
    if (local.day !== dayIndex) {
      dayIndex = local.day;
      weather = 0.8 * weather + rnd.normal(0, 1.8);
      cloudAnomaly = 0.6 * cloudAnomaly + rnd.normal(0, 0.22);
      cloudOfDay = clamp(0.6 + 0.2 * Math.cos((2 * Math.PI * (local.day - 15)) / 365) + cloudAnomaly, 0, 1);
    }
    const temperature = 12.5 - 9 * Math.cos((2 * Math.PI * (local.day - 15)) / 365) + 4 * Math.cos((2 * Math.PI * (local.hour - 15)) / 24) + weather;
    const s = sun(mid, local.day);
    const stamp = localTime(t).iso;

    // Household.
    const a = activity(local.hour, local.weekend);
    const dark = s.sinElevation < Math.sin(3 * RAD);
    const setpoint = local.hour >= 6 && local.hour < 23 ? 19.5 : 17;
    const heating = Math.min(6000, 170 * Math.max(0, setpoint - 3 - temperature));
    const winter = (1 + Math.cos((2 * Math.PI * (local.day - 15)) / 365)) / 2;
    const hotWaterHours = 1.5 + winter;
    const sinceOffPeak = (local.hour - 23.5 + 24) % 24;
    const hotWater = sinceOffPeak < hotWaterHours ? 2200 : 0;
    const appliance = rnd.uniform() < 0.05 * a ? 1200 + 1000 * rnd.uniform() : 0;
    const load = (180 + 950 * a + (dark ? 220 * a : 0) + heating + hotWater + appliance) * rnd.normal(1, 0.08);
    rows.push({ identifier: HOUSEHOLD, time: stamp, value: Math.max(80, Math.round(load)) });

    // School solar production.
    let production = 0;
    if (s.sinElevation > 0) {
      const airMass = Math.min(38, 1 / s.sinElevation);
      const dni = 1353 * Math.pow(0.7, Math.pow(airMass, 0.678));
      const tilt = 30 * RAD;
      const phi = LATITUDE * RAD;
      const cosIncidence = Math.sin(s.declination) * Math.sin(phi - tilt) + Math.cos(s.declination) * Math.cos(phi - tilt) * Math.cos(s.hourAngle);
      const clear = dni * Math.max(0, cosIncidence) + (0.1 * dni * (1 + Math.cos(tilt))) / 2;
      const cloud = clamp(cloudOfDay + rnd.normal(0, 0.12), 0, 1);
      const g = clear * (1 - 0.75 * Math.pow(cloud, 3.4));
      const cell = temperature + 0.03 * g;
      production = Math.max(0, Math.round(36_000 * (g / 1000) * 0.8 * (1 - 0.004 * (cell - 25))));
    }
    rows.push({ identifier: SCHOOL, time: stamp, value: production });
  }
  return rows;
}

/** Midnight of January 1st in Europe/Paris, as epoch seconds (always +01:00 in winter). */
function localStart(year: number): number {
  return Date.UTC(year, 0, 1) / 1000 - 3600;
}

function main(): void {
  const { values } = parseArgs({
    options: { out: { type: 'string' }, year: { type: 'string', default: '2024' }, seed: { type: 'string', default: '1' } },
  });
  const year = Number(values.year);
  const seed = Number(values.seed);
  if (!values.out || !/\.csv$/i.test(values.out) || !Number.isInteger(year) || !Number.isInteger(seed)) {
    process.stderr.write('usage: demo-data --out FILE.csv [--year 2024] [--seed 1]\n');
    process.exitCode = 2;
    return;
  }
  const rows = generateDemoData(year, seed);
  writeFileSync(values.out, `identifier,time,value,unit\n${rows.map((r) => `${r.identifier},${r.time},${r.value},W`).join('\n')}\n`);
  writeFileSync(sidecarPath(values.out), `${JSON.stringify(DEMO_META, null, 2)}\n`);
  for (const id of [HOUSEHOLD, SCHOOL]) {
    const values = rows.filter((r) => r.identifier === id).map((r) => r.value);
    const kWh = values.reduce((s, v) => s + v, 0) * 0.5 / 1000;
    process.stderr.write(`${id}: ${values.length} half-hours, ${Math.round(kWh)} kWh, peak ${Math.max(...values)} W\n`);
  }
}

main();
