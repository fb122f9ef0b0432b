// The container tier's system: podman with a private containers.conf and the test image
// (built from Debian once per recipe; see test/helpers/podman.ts).
import { startPodman } from '../helpers/podman';
import { serveSystem } from '../helpers/system';

serveSystem(startPodman);
