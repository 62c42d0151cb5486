// The fake backend's ways out of the app: posting an approved asset to X
// or LinkedIn, and an image brief's Canva design and its export. Like the
// engine, the post's address and the design are kept on the asset.
import type { Commands } from "../api";
import type { Asset, AssetView, Campaign } from "../bindings";
import { invalid } from "./errors";

type PublishingCommands = Pick<Commands, "assetPublish" | "assetDesign" | "assetExportDesign">;

export function createFakePublishing(
  record: (name: string) => void,
  findAsset: (assetId: string) => [Campaign, Asset],
  view: (c: Campaign, assetId: string) => AssetView,
  changedCampaign: (c: Campaign) => void,
): PublishingCommands {
  let n = 0;
  return {
    async assetPublish(assetId, service, _checked) {
      record("asset_publish");
      const [c, asset] = findAsset(assetId);
      if (service !== "x" && service !== "linkedin") throw invalid("service", `invalid service: only X and LinkedIn posts can be published so far, not to ${service}`);
      const wanted = service === "x" ? "x_post" : "linkedin_post";
      if (asset.content.kind !== wanted) {
        throw invalid("asset kind", `invalid asset kind: asset ${assetId} is a ${asset.content.kind}: only a${service === "x" ? "n" : ""} ${wanted} can be posted to ${service === "x" ? "X" : "LinkedIn"}`);
      }
      if (asset.status !== "approved") throw { kind: "conflict", message: `asset ${assetId} is ${asset.status}: it is posted only once approved`, field: null };
      // Like the engine with the service's answer: the post's address is kept on the asset.
      asset.status = "published";
      const id = String(++n).padStart(14, "0");
      asset.published_url = service === "x" ? `https://x.com/i/web/status/18666${id}` : `https://www.linkedin.com/feed/update/urn:li:share:74049${id}/`;
      void changedCampaign(c);
      return view(c, assetId);
    },
    async assetDesign(assetId) {
      record("asset_design");
      const [c, asset] = findAsset(assetId);
      if (asset.content.kind !== "image_brief") {
        throw invalid("asset kind", `invalid asset kind: asset ${assetId} is a ${asset.content.kind}: only an image_brief is designed in Canva`);
      }
      // Like the engine with Canva's answer: the design is kept on the asset, made once.
      if (!asset.design) {
        const id = `DAF${String(++n).padStart(8, "0")}`;
        asset.design = { service: "canva", id, edit_url: `https://www.canva.com/api/design/${id}/edit`, view_url: `https://www.canva.com/api/design/${id}/view` };
        void changedCampaign(c);
      }
      return view(c, assetId);
    },
    async assetExportDesign(assetId, format) {
      record("asset_export_design");
      const [, asset] = findAsset(assetId);
      if (!asset.design) throw { kind: "conflict", message: `asset ${assetId} has no Canva design: make one first`, field: null };
      if (!["png", "jpg", "pdf"].includes(format)) throw invalid("format", `invalid format: unknown export format "${format}"; use png, jpg or pdf`);
      const folder = "/home/ana/Downloads/RaptorFlow";
      return { folder, files: [`${folder}/${assetId}.${format}`] };
    },
  };
}
