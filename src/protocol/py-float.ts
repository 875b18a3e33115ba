/**
 * Python's `float.__repr__` for a JS number (CPython Python/pystrtod.c `PyOS_double_to_string`
 * with mode 'r'): the shortest digits that round-trip (JS and Python agree on those), then
 * Python's layout: fixed notation when -4 < decimal point position <= 16, else `d.ddde+XX`
 * with a signed, at-least-two-digit exponent; fixed notation always shows a fraction (`1.0`).
 *
 * Examples: 0.1 -> `0.1`, 1e16 -> `1e+16`, 1e15 -> `1000000000000000.0`, 1e-5 -> `1e-05`,
 * -0 -> `-0.0`. Non-finite values are the caller's business (json writes `NaN`, yaml `.nan`).
 */
export function pyFloatRepr(n: number): string {
  if (n === 0) return Object.is(n, -0) ? "-0.0" : "0.0";
  const sign = n < 0 ? "-" : "";
  // toExponential() without an argument gives the shortest round-trip digits: "1.2345e+17".
  const exp = Math.abs(n).toExponential();
  const eAt = exp.indexOf("e");
  const digits = exp.slice(0, eAt).replace(".", "");
  const exponent = Number(exp.slice(eAt + 1));
  const decpt = exponent + 1; // position of the decimal point relative to the digit string
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) return `${sign}0.${"0".repeat(-decpt)}${digits}`;
    if (decpt >= digits.length) return `${sign}${digits}${"0".repeat(decpt - digits.length)}.0`;
    return `${sign}${digits.slice(0, decpt)}.${digits.slice(decpt)}`;
  }
  const mantissa = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const expSign = exponent < 0 ? "-" : "+";
  return `${sign}${mantissa}e${expSign}${String(Math.abs(exponent)).padStart(2, "0")}`;
}
