// The slurm tier's system: a private single-node cluster (see test/helpers/slurmCluster.ts).
import { startSlurmCluster } from '../helpers/slurmCluster';
import { serveSystem } from '../helpers/system';

serveSystem(startSlurmCluster);
