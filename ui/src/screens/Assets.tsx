// A campaign's assets and the editor: one form per kind of asset with live
// character counts, Guardian's findings inline as you type (checked by the
// engine under the brand codex, 400 ms after the last key), and review:
// approve (refused while anything blocks) or request changes.
import { Alert, Badge, Button, Card, Code, Group, NativeSelect, NumberInput, Stack, Text, TextInput, Textarea, Title } from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";

import { FIELDS, counter, emptyContent, fieldValue, findingsFor, generalFindings, withField, withListLength, type FieldSpec } from "../assets";
import type { AssetContent, AssetKind, AssetStatus, AssetView, GuardianFinding, Report } from "../bindings";
import { ErrorNotice } from "../Notice";
import { notice } from "../errors";
import { useEngine } from "../engine-context";
import { ASSET_KIND_LABELS } from "../types";

const STATUS_LABELS: Record<AssetStatus, string> = {
  draft: "Draft",
  in_review: "In review",
  changes_requested: "Changes requested",
  approved: "Approved",
  published: "Published",
};

const VERDICT_COLOR = { pass: "green", warn: "yellow", block: "red" } as const;

export function Assets({ workspaceId, campaignId }: { workspaceId: string; campaignId: string }) {
  const engine = useEngine();
  const assets = useQuery({ queryKey: ["assets", campaignId], queryFn: () => engine.assetList(campaignId) });
  const campaign = useQuery({ queryKey: ["campaign", campaignId], queryFn: () => engine.campaignShow(campaignId) });
  const [editing, setEditing] = useState<{ assetId: string | null; content: AssetContent; moveId: string | null } | null>(null);
  const [kind, setKind] = useState<AssetKind>("x_post");
  const [moveId, setMoveId] = useState<string>("");

  const moves = Object.entries(campaign.data?.moves ?? {});
  return (
    <Stack>
      <Title order={3}>Assets</Title>
      <ErrorNotice error={assets.error} />
      {assets.data?.length === 0 && !editing && <Text c="dimmed">No assets yet. Pick a kind below and write the first one.</Text>}
      {assets.data?.map((asset) => (
        <AssetRow key={asset.asset_id} asset={asset} onEdit={() => setEditing({ assetId: asset.asset_id, content: asset.content, moveId: asset.move_id })} />
      ))}
      {!editing && (
        <Group align="flex-end">
          <NativeSelect
            label="Kind"
            value={kind}
            onChange={(e) => setKind(e.currentTarget.value as AssetKind)}
            data={Object.entries(ASSET_KIND_LABELS).map(([value, label]) => ({ value, label }))}
          />
          <NativeSelect
            label="For move"
            value={moveId}
            onChange={(e) => setMoveId(e.currentTarget.value)}
            data={[{ value: "", label: "No move" }, ...moves.map(([id, move]) => ({ value: id, label: move.title }))]}
          />
          <Button onClick={() => setEditing({ assetId: null, content: emptyContent(kind), moveId: moveId || null })}>New asset</Button>
        </Group>
      )}
      {editing && (
        <Editor
          key={editing.assetId ?? "new"}
          workspaceId={workspaceId}
          campaignId={campaignId}
          assetId={editing.assetId}
          moveId={editing.moveId}
          initial={editing.content}
          onClose={() => setEditing(null)}
        />
      )}
    </Stack>
  );
}

function AssetRow({ asset, onEdit }: { asset: AssetView; onEdit: () => void }) {
  const blocks = asset.findings.filter((f) => f.severity === "block").length;
  return (
    <Card withBorder padding="xs">
      <Group justify="space-between">
        <div>
          <Text fw={500}>{ASSET_KIND_LABELS[asset.kind]}</Text>
          <Text size="sm" c="dimmed">
            {summaryOf(asset.content)}
          </Text>
        </div>
        <Group gap="xs">
          <Badge color={blocks > 0 ? "red" : asset.findings.length > 0 ? "yellow" : "green"} variant="light">
            {blocks > 0 ? `${blocks} blocking` : asset.findings.length > 0 ? `${asset.findings.length} warnings` : "Guardian passes"}
          </Badge>
          <Badge variant="outline">{STATUS_LABELS[asset.status]}</Badge>
          <Button size="xs" variant="light" onClick={onEdit} aria-label={`Edit ${ASSET_KIND_LABELS[asset.kind]}: ${summaryOf(asset.content)}`}>
            Edit
          </Button>
        </Group>
      </Group>
    </Card>
  );
}

function summaryOf(content: AssetContent): string {
  const first = FIELDS[content.kind][0];
  const value = first ? fieldValue(content, first.name) : "";
  const text = Array.isArray(value) ? (value[0] ?? "") : String(value ?? "");
  return text.length > 80 ? `${text.slice(0, 80)}…` : text || "(empty)";
}

function Editor(props: {
  workspaceId: string;
  campaignId: string;
  assetId: string | null;
  moveId: string | null;
  initial: AssetContent;
  onClose: () => void;
}) {
  const { workspaceId, campaignId, moveId, onClose } = props;
  const engine = useEngine();
  const queryClient = useQueryClient();
  const [assetId, setAssetId] = useState(props.assetId);
  const [content, setContent] = useState(props.initial);
  const [dirty, setDirty] = useState(props.assetId === null);
  const [debounced] = useDebouncedValue(content, 400);
  const check = useQuery({
    queryKey: ["guardian", workspaceId, debounced],
    queryFn: () => engine.assetCheck(workspaceId, debounced),
    placeholderData: (previous) => previous,
  });
  const asset = useQuery({
    queryKey: ["asset", assetId],
    queryFn: async () => (await engine.assetList(campaignId)).find((a) => a.asset_id === assetId) ?? null,
    enabled: assetId !== null,
  });
  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: ["assets", campaignId] });
    void queryClient.invalidateQueries({ queryKey: ["asset"] });
  };
  const save = useMutation({
    mutationFn: () => (assetId === null ? engine.assetCreate(campaignId, moveId, content) : engine.assetSave(assetId, content)),
    onSuccess: (saved) => {
      setAssetId(saved.asset_id);
      setDirty(false);
      refresh();
    },
  });
  const [note, setNote] = useState<string | null>(null);
  const review = useMutation({
    mutationFn: (status: AssetStatus) => engine.assetSetStatus(assetId!, status, note),
    onSuccess: refresh,
  });
  // Where an approved post can be published.
  const target = content.kind === "x_post" ? { service: "x", name: "X" } : content.kind === "linkedin_post" ? { service: "linkedin", name: "LinkedIn" } : null;
  const publish = useMutation({ mutationFn: (checked: boolean) => engine.assetPublish(assetId!, target!.service, checked), onSuccess: refresh });
  const design = useMutation({ mutationFn: () => engine.assetDesign(assetId!), onSuccess: refresh });
  const exportDesign = useMutation({ mutationFn: (format: string) => engine.assetExportDesign(assetId!, format) });
  // An earlier post that got no confirmation: posted again only once the user looked.
  const unconfirmed = publish.error !== null && notice(publish.error).message.includes("--checked");
  const posting = publish.isPending ? publish.variables : null;
  const shownNote = note ?? asset.data?.review_note ?? "";
  const report: Report | undefined = check.data;
  const findings = report?.findings ?? [];
  const blocking = findings.some((f) => f.severity === "block");
  const update = (next: AssetContent) => {
    setContent(next);
    setDirty(true);
  };

  return (
    <Card withBorder padding="md" aria-label="Asset editor">
      <Stack>
        <Group justify="space-between">
          <Title order={4}>{ASSET_KIND_LABELS[content.kind]}</Title>
          <Group gap="xs">
            {report && (
              <Badge color={VERDICT_COLOR[report.verdict]} role="status" aria-label={`Guardian: ${report.verdict}`}>
                Guardian: {report.verdict}
                {check.isFetching ? "…" : ""}
              </Badge>
            )}
            {asset.data && <Badge variant="outline">{STATUS_LABELS[asset.data.status]}</Badge>}
          </Group>
        </Group>
        <ErrorNotice error={check.error} />
        {generalFindings(findings, content.kind).map((finding, i) => (
          <FindingLine key={`general-${i}`} finding={finding} />
        ))}
        {FIELDS[content.kind].map((spec) => (
          <FieldEditor key={spec.name} spec={spec} content={content} findings={findings} onChange={update} />
        ))}
        <ErrorNotice error={save.error} />
        {assetId !== null && (
          <Textarea
            label="Review note"
            description="What to change, or why it is approved; saved with Approve or Request changes"
            value={shownNote}
            onChange={(e) => setNote(e.currentTarget.value)}
            autosize
            minRows={2}
          />
        )}
        <ErrorNotice error={review.error} />
        <Group>
          <Button onClick={() => save.mutate()} loading={save.isPending} disabled={!dirty}>
            {assetId === null ? "Save asset" : dirty ? "Save changes" : "Saved"}
          </Button>
          <Button
            color="green"
            disabled={assetId === null || dirty || blocking}
            onClick={() => review.mutate("approved")}
            loading={review.isPending && review.variables === "approved"}
          >
            Approve
          </Button>
          <Button
            color="orange"
            variant="light"
            disabled={assetId === null || dirty}
            onClick={() => review.mutate("changes_requested")}
            loading={review.isPending && review.variables === "changes_requested"}
          >
            Request changes
          </Button>
          {target && asset.data?.status === "approved" && !dirty && (
            <Button variant="light" onClick={() => publish.mutate(false)} loading={posting === false} disabled={unconfirmed}>
              Post to {target.name}
            </Button>
          )}
          {target && unconfirmed && (
            <Button variant="subtle" color="orange" onClick={() => publish.mutate(true)} loading={posting === true}>
              I checked {target.name}: it is not there, post again
            </Button>
          )}
          {content.kind === "image_brief" && assetId !== null && !dirty && !asset.data?.design && (
            <Button variant="light" onClick={() => design.mutate()} loading={design.isPending}>
              Design in Canva
            </Button>
          )}
          {asset.data?.design && !dirty && (
            <>
              <Button variant="light" onClick={() => exportDesign.mutate("png")} loading={exportDesign.isPending && exportDesign.variables === "png"}>
                Export PNG
              </Button>
              <Button variant="light" onClick={() => exportDesign.mutate("pdf")} loading={exportDesign.isPending && exportDesign.variables === "pdf"}>
                Export PDF
              </Button>
            </>
          )}
          <Button variant="subtle" onClick={onClose}>
            Close
          </Button>
        </Group>
        <ErrorNotice error={publish.error} />
        <ErrorNotice error={design.error} />
        <ErrorNotice error={exportDesign.error} />
        {asset.data?.design && (
          <Text size="sm" role="status" aria-label="Canva design">
            Canva design {asset.data.design.id}: open <Code>{asset.data.design.edit_url}</Code> to edit it (Canva keeps it in your account; the text and
            pictures of the brief are yours to place)
          </Text>
        )}
        {exportDesign.data && (
          <Text size="sm" role="status" aria-label="Exported">
            Exported to {exportDesign.data.files.map((file) => <Code key={file}>{file}</Code>)}
          </Text>
        )}
        {asset.data?.published_url && (
          <Text size="sm" role="status" aria-label="Published">
            Published at <Code>{asset.data.published_url}</Code>
          </Text>
        )}
        {blocking && assetId !== null && !dirty && (
          <Text size="sm" c="dimmed">
            Approval is possible once Guardian finds nothing blocking.
          </Text>
        )}
        {dirty && assetId !== null && (
          <Text size="sm" c="dimmed">
            Save your changes to review this asset.
          </Text>
        )}
      </Stack>
    </Card>
  );
}

function FindingLine({ finding }: { finding: GuardianFinding }) {
  return (
    <Alert color={finding.severity === "block" ? "red" : "yellow"} p="xs" title={finding.severity === "block" ? "Blocks approval" : "Warning"}>
      {finding.message}
    </Alert>
  );
}

function FieldEditor({ spec, content, findings, onChange }: { spec: FieldSpec; content: AssetContent; findings: GuardianFinding[]; onChange: (c: AssetContent) => void }) {
  const value = fieldValue(content, spec.name);
  if (spec.number) {
    return (
      <NumberInput label={spec.label} value={Number(value ?? 0)} min={0} onChange={(v) => onChange(withField(content, spec.name, typeof v === "number" ? v : 0))} />
    );
  }
  if (spec.list) {
    const items = (value as string[] | undefined) ?? [];
    return (
      <Stack gap={4}>
        {items.map((item, index) => (
          <TextItem
            key={index}
            label={`${spec.label} ${index + 1}`}
            value={item}
            limit={spec.limit}
            findings={findingsFor(findings, spec.name, index)}
            onChange={(text) => onChange(withField(content, spec.name, text, index))}
          />
        ))}
        <Group gap="xs">
          {items.length < spec.list.max && (
            <Button size="xs" variant="subtle" onClick={() => onChange(withListLength(content, spec.name, items.length + 1))}>
              Add {spec.label.toLowerCase()}
            </Button>
          )}
          {items.length > spec.list.min && (
            <Button size="xs" variant="subtle" color="gray" onClick={() => onChange(withListLength(content, spec.name, items.length - 1))}>
              Remove the last {spec.label.toLowerCase()}
            </Button>
          )}
        </Group>
      </Stack>
    );
  }
  return (
    <TextItem
      label={spec.label}
      value={String(value ?? "")}
      limit={spec.limit}
      multiline={spec.multiline}
      findings={findingsFor(findings, spec.name)}
      onChange={(text) => onChange(withField(content, spec.name, text))}
    />
  );
}

function TextItem(props: { label: string; value: string; limit?: number; multiline?: boolean; findings: GuardianFinding[]; onChange: (text: string) => void }) {
  const count = counter(props.value, props.limit);
  const error = props.findings.filter((f) => f.severity === "block").map((f) => f.message).join(" · ") || undefined;
  const warnings = props.findings.filter((f) => f.severity === "warn").map((f) => f.message);
  const description = (
    <span>
      <span data-over={count.over ? "true" : undefined} style={count.over ? { color: "var(--mantine-color-red-7)", fontWeight: 600 } : undefined}>
        {count.label}
      </span>
      {warnings.length > 0 && <span> · {warnings.join(" · ")}</span>}
    </span>
  );
  const common = { label: props.label, value: props.value, description, error, onChange: (e: { currentTarget: { value: string } }) => props.onChange(e.currentTarget.value) };
  return props.multiline ? <Textarea {...common} autosize minRows={3} /> : <TextInput {...common} />;
}
