import { K8sScratchCopy, KubeObject, components, kustomizations } from './kustomize';

export interface Render {
  /** `k8s/overlays/dev`, or `k8s/overlays/dev + k8s/components/without-keda` for a check overlay. */
  label: string;
  objects: KubeObject[];
  /** Components added to the overlay (for the check overlays). */
  components: string[];
}

/** The overlay the component checks build on. */
const COMPONENT_BASE_OVERLAY = 'k8s/overlays/dev';

/**
 * Renders every kustomization under k8s/ with `kubectl kustomize` (secretGenerators reading
 * copies of the committed *.env.example files), plus the dev overlay with each component of
 * k8s/components and with all of them, in a scratch copy of k8s/.
 */
export function renderAll(): Render[] {
  const scratch = new K8sScratchCopy();
  try {
    const renders: Render[] = kustomizations().map((dir) => ({
      label: dir,
      objects: scratch.render(dir),
      components: [],
    }));
    const variants = components().map((component) => [component]);
    if (variants.length > 1) {
      variants.push(components());
    }
    variants.forEach((selected, index) => {
      const dir = `k8s/overlays/__deploy-checks-${index}`;
      scratch.addKustomization(
        dir,
        [
          'apiVersion: kustomize.config.k8s.io/v1beta1',
          'kind: Kustomization',
          'resources:',
          `  - ../${COMPONENT_BASE_OVERLAY.split('/').pop()}`,
          'components:',
          ...selected.map((component) => `  - ../../${component.replace(/^k8s\//, '')}`),
        ].join('\n'),
      );
      renders.push({
        label: `${COMPONENT_BASE_OVERLAY} + ${selected.join(' + ')}`,
        objects: scratch.render(dir),
        components: selected,
      });
    });
    return renders;
  } finally {
    scratch.dispose();
  }
}

/** Renders containing the apps (every one but the separate infrastructure kustomizations). */
export function appRenders(renders: Render[]): Render[] {
  return renders.filter((render) => render.objects.some((object) => object.kind === 'Deployment'));
}

export function usesKeda(render: Render): boolean {
  return render.objects.some((object) => object.apiVersion.startsWith('keda.sh/'));
}
