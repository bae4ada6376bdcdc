import t from 'tap';
import { formatDuration, parseDuration } from '../../src/config/duration.js';

t.test('parses single units', async (t) => {
  t.equal(parseDuration('500ms'), 500);
  t.equal(parseDuration('90s'), 90_000);
  t.equal(parseDuration('15m'), 900_000);
  t.equal(parseDuration('8h'), 28_800_000);
  t.equal(parseDuration('30d'), 2_592_000_000);
  t.equal(parseDuration('0s'), 0);
  t.equal(parseDuration('0'), 0);
  t.equal(parseDuration(' 2h '), 7_200_000, 'surrounding spaces are ignored');
});

t.test('parses combinations written largest unit first', async (t) => {
  t.equal(parseDuration('1h30m'), 5_400_000);
  t.equal(parseDuration('1d2h3m4s5ms'), 93_784_005);
});

t.test('refuses what is not a duration', async (t) => {
  for (const text of ['', '30', '1.5h', '-5s', '5 s', '1w', 'h', '30m1h', '1m1m', '1hh', 'soon', '1h 30m']) {
    t.equal(parseDuration(text), null, JSON.stringify(text));
  }
  t.equal(parseDuration(`${'9'.repeat(20)}d`), null, 'beyond safe integers');
});

t.test('formats the shortest form that parses back', async (t) => {
  t.equal(formatDuration(0), '0s');
  t.equal(formatDuration(500), '500ms');
  t.equal(formatDuration(60_000), '1m');
  t.equal(formatDuration(5_400_000), '1h30m');
  t.equal(formatDuration(93_784_005), '1d2h3m4s5ms');
  for (const ms of [1, 999, 1000, 61_000, 86_400_000, 123_456_789]) t.equal(parseDuration(formatDuration(ms)), ms);
  t.throws(() => formatDuration(-1), RangeError);
  t.throws(() => formatDuration(Number.NaN), RangeError);
});
