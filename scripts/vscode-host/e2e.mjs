export async function runE2E() {
  return false;
}
