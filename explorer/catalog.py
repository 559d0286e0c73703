# ruff: noqa: E501 - a message reads best on one line beside its English
"""The explorer's messages in zh-CN, keyed by their English text.

English is written in the templates and code (``_("Donations")``); a message missing
here shows in English, and ``tests/explorer/test_i18n.py`` fails on it.
"""

from __future__ import annotations

ZH_CN: dict[str, str] = {
    # -- the frame ---------------------------------------------------------------------------
    "Explorer": "浏览器",
    "Shanlian": "善链",
    "Shanlian explorer": "公益资金浏览器",
    "Skip to content": "跳到正文",
    "Language": "语言",
    "Search": "搜索",
    "Donation id, transaction hash, entry number, name": "捐款编号、交易哈希、条目序号或名称",
    "Sections": "栏目",
    "Home": "首页",
    "Checkpoints": "检查点",
    "Read-only explorer of an append-only journal whose checkpoints are anchored on chain. "
    "Nothing here can be changed, and everything can be checked.": (
        "只读浏览器：数据来自只增不改的账本，其检查点锚定在区块链上。这里的一切都无法被篡改，也都可以自行核验。"
    ),
    "This page as JSON": "本页 JSON 数据",
    "The journal (JSON Lines)": "完整账本（JSON Lines）",
    "API": "API",
    "Not found": "未找到",
    "There is nothing here. Check the address, or search for it.": "这里没有内容。请检查网址，或试试搜索。",
    # -- home ------------------------------------------------------------------------------
    "Where charity money goes": "善款去向，一目了然",
    "Every donation, every use of money and its evidence is an entry of one append-only "
    "journal. Its checkpoints are anchored on a blockchain, so nobody, the platform "
    "included, can rewrite what it says. Scan the QR code of your receipt to see your "
    "donation and check it yourself.": (
        "每一笔捐款、每一笔支出及其凭证，都是同一本只增不改账本中的一条记录。"
        "账本的检查点锚定在区块链上，任何人（包括平台自己）都无法改写。"
        "扫描收据上的二维码，即可查看您的捐款并亲自核验。"
    ),
    "In all": "总览",
    "charities": "家慈善组织",
    "projects": "个项目",
    "donations": "笔捐款",
    "disbursements": "笔支出",
    "journal entries": "条账本记录",
    "Money, all charities": "全部慈善组织的资金",
    "Latest donations": "最新捐款",
    "Latest checkpoint": "最新检查点",
    "All checkpoints, and the proofs between them": "全部检查点及其一致性证明",
    "Nothing is anchored yet.": "尚无上链的检查点。",
    "The next anchor is due by": "下一次上链不晚于",
    # -- balances --------------------------------------------------------------------------
    "Currency": "币种",
    "Received": "收到",
    "Spent": "已使用",
    "Refunded": "已退款",
    "Not yet spent": "尚未使用",
    "Spent: donations allocated to disbursements with their evidence. Disbursed in all "
    "(from any source):": "已使用：已分配到附有凭证的支出的捐款。支出总额（含其他资金来源）：",
    "No donations yet.": "暂无捐款。",
    "Money": "资金",
    "Money of this charity": "本组织的资金",
    "Money of this project": "本项目的资金",
    # -- lists -----------------------------------------------------------------------------
    "General fund": "非定向（一般用途）",
    "paid": "付款于",
    "voided": "已作废",
    "No disbursements yet.": "暂无支出。",
    "Latest disbursements": "最新支出",
    "Projects": "项目",
    "Goal": "目标",
    "No projects yet.": "暂无项目。",
    # -- charity and project -----------------------------------------------------------------
    "Charity id": "组织编号",
    "Registration number": "登记证号",
    "Signing key": "签名密钥",
    "Registered in entry": "登记记录",
    "Project id": "项目编号",
    "Opened in entry": "立项记录",
    # -- fund flows ------------------------------------------------------------------------
    "Where the money went": "资金流向",
    "Fund flow, %(currency)s": "资金流向（%(currency)s）",
    "The same flows as a table": "以表格查看同样的流向",
    "From": "来源",
    "To": "去向",
    "Amount": "金额",
    "No money has been received or spent yet.": "尚未收到或使用任何资金。",
    "General fund donations": "非定向捐款",
    "Donations to %(title)s": "捐给「%(title)s」",
    "General fund spending": "一般用途支出",
    "%(count)s others": "其他 %(count)s 项",
    "Money flows from the donations on the left, through where it is now, to the payees "
    "on the right. The table below lists the same amounts.": (
        "资金从左侧的捐款出发，经过其当前所在（项目支出、尚未使用、已退款），流向右侧的收款方。"
        "下方表格列出相同的金额。"
    ),
    # -- checkpoints -----------------------------------------------------------------------
    "Checkpoint": "检查点",
    "Entries covered": "覆盖的记录数",
    "Merkle root": "默克尔根",
    "Chain": "链",
    "Contract": "合约",
    "Transaction": "交易",
    "Block": "区块",
    "Anchored at": "上链时间",
    "Status": "状态",
    "confirmed": "已确认",
    "waiting for confirmations": "等待确认",
    "A checkpoint is the journal's size and Merkle root, anchored in a smart contract. The "
    "contract accepts a new one only with a proof that the journal grew without changing "
    "what it held; this page checks those proofs again.": (
        "检查点是账本的记录数与默克尔根，锚定在智能合约中。合约只接受附带证明的新检查点——"
        "证明账本只是增长、未改动已有内容；本页再次核验这些证明。"
    ),
    "%(count)s checkpoints in all.": "共 %(count)s 个检查点。",
    "entries": "条记录",
    "block": "区块",
    "Extends checkpoint #%(index)s (%(first)s → %(second)s entries): the consistency proof "
    "verifies.": "延续检查点 #%(index)s（%(first)s → %(second)s 条记录）：一致性证明验证通过。",
    "Does not extend checkpoint #%(index)s:": "未能延续检查点 #%(index)s：",
    "proof": "证明",
    "The first checkpoint: every later one must extend it.": "第一个检查点：之后的每一个都必须延续它。",
    "Older checkpoints": "更早的检查点",
    # -- donation --------------------------------------------------------------------------
    "Donation": "捐款",
    "Given to": "捐给",
    "Earmarked for": "指定用途",
    "Paid": "付款",
    "Donation id": "捐款编号",
    "Donor commitment": "捐赠人承诺值",
    "Recorded in the journal": "已记入账本",
    "entry": "记录",
    "Anchored in block %(block)s": "已在区块 %(block)s 上链",
    "checkpoint": "检查点",
    "chain": "链",
    "transaction": "交易",
    "Confirmed": "已确认",
    "Waiting for confirmations": "等待区块确认",
    "Not anchored yet": "尚未上链",
    "due by": "预计不晚于",
    "What this donation paid for": "这笔捐款用在了哪里",
    "of": "用于",
    "disbursed": "支出",
    "Nothing yet: the charity has not spent this donation so far.": "暂无：慈善组织尚未使用这笔捐款。",
    "Refunds": "退款",
    "Journal entries about this donation": "与这笔捐款有关的账本记录",
    "Download the evidence": "下载凭证",
    "shown to auditors only": "仅向审计方公开",
    "No evidence attached.": "未附凭证。",
    # -- the verifier ------------------------------------------------------------------------
    "Check it yourself": "亲自核验",
    "Your browser fetches the proof, hashes the entry, checks that it is in the anchored "
    "Merkle tree, and reads the checkpoint from the smart contract. It trusts nothing this "
    "server says about the result.": (
        "您的浏览器会下载证明、计算记录的哈希、检查它是否在已上链的默克尔树中，"
        "并从智能合约读取检查点。核验结果不依赖本服务器的任何说法。"
    ),
    "JSON-RPC endpoint (optional: by default the one this site names)": (
        "JSON-RPC 节点地址（可选：默认使用本站提供的节点）"
    ),
    "Verify": "核验",
    "Download the proof bundle": "下载证明文件",
    "(check it offline: shanlian verify FILE --rpc URL)": "（离线核验：shanlian verify 文件 --rpc 节点地址）",
    "The check runs in your browser and needs JavaScript; you can still download the proof "
    "bundle.": "核验在您的浏览器中运行，需要启用 JavaScript；您仍可下载证明文件。",
    "Checking…": "正在核验…",
    "Fetch the proof bundle": "获取证明文件",
    "Proof bundle received: entry #{seq}, checkpoint #{index}": "已获取证明文件：记录 #{seq}，检查点 #{index}",
    "This donation is recorded but not anchored yet: {detail}": "这笔捐款已记账，但尚未上链：{detail}",
    "Could not fetch the proof bundle: {detail}": "无法获取证明文件：{detail}",
    "The entry is this donation": "记录正是这笔捐款",
    "The bundle's entry is not this donation's": "证明文件中的记录不是这笔捐款",
    "Hash the entry: SHA-256(0x00 ‖ canonical JSON)": "计算记录哈希：SHA-256(0x00 ‖ 规范化 JSON)",
    "The entry hashes to {hash}, as the bundle says": "记录哈希为 {hash}，与证明文件一致",
    "The entry hashes to {hash}, but the bundle says {expected}": (
        "记录哈希为 {hash}，但证明文件写的是 {expected}"
    ),
    "Check the inclusion proof against the checkpoint": "用检查点核对包含证明",
    "Entry #{seq} is in the tree of {size} entries with root {root}": (
        "记录 #{seq} 在含 {size} 条记录、根为 {root} 的默克尔树中"
    ),
    "The proof does not lead to the checkpoint's root: {detail}": "证明无法推导出检查点的根：{detail}",
    "Check the log's signature on the checkpoint": "核对账本日志对检查点的签名",
    "The log {origin} signed this checkpoint of {size} entries": (
        "账本日志 {origin} 签署了这个含 {size} 条记录的检查点"
    ),
    "The checkpoint's signature does not hold: {detail}": "检查点的签名无效：{detail}",
    "This browser cannot check the log's signature (Ed25519); the chain is asked below": (
        "此浏览器无法核对账本日志的签名（Ed25519）；下面将向区块链核实"
    ),
    "Check the witnesses' cosignatures on the checkpoint": "核对见证方对检查点的联署签名",
    "{count} of {total} witnesses cosigned this checkpoint: {names}": (
        "{total} 个见证方中有 {count} 个联署了这个检查点：{names}"
    ),
    "None of the {total} witnesses has cosigned this checkpoint yet": (
        "{total} 个见证方都还没有联署这个检查点"
    ),
    "A witness's cosignature does not hold: {detail}": "见证方的联署签名无效：{detail}",
    "Ask the chain which chain it is": "确认区块链身份",
    "The JSON-RPC endpoint serves chain {chain_id}": "JSON-RPC 节点属于链 {chain_id}",
    "The endpoint serves chain {actual}, the bundle was anchored on {expected}": (
        "节点属于链 {actual}，但证明文件锚定在链 {expected}"
    ),
    "Read the checkpoint from the contract": "从合约读取检查点",
    "Contract {contract} holds checkpoint #{index}: {size} entries, root {root}": (
        "合约 {contract} 中的检查点 #{index}：{size} 条记录，根 {root}"
    ),
    "The contract has no checkpoint #{index} as in the bundle: {detail}": "合约中没有与证明相符的检查点 #{index}：{detail}",
    "Check your receipt code": "核对您的收据密码",
    "This is your donation: your receipt code matches it.": "这是您的捐款：收据密码与之相符。",
    "The receipt code in this link does not match this donation.": "此链接中的收据密码与这笔捐款不符。",
    "The JSON-RPC endpoint did not answer: {detail}": "JSON-RPC 节点无应答：{detail}",
    "Verified: this donation is in the journal, and the journal is anchored on chain.": (
        "核验通过：这笔捐款在账本中，且账本已锚定在区块链上。"
    ),
    "Verification failed: the proof does not hold for this donation.": "核验失败：证明对这笔捐款不成立。",
    "You opened this page from your receipt: it is checked as it opens; press Verify to check again.": (
        "您是通过收据打开本页的：页面打开时已自动核验；点击“核验”可再核验一次。"
    ),
    "This page is not on HTTPS, so it hashes with its own SHA-256 code.": (
        "本页未使用 HTTPS，因此使用内置的 SHA-256 代码计算哈希。"
    ),
    # -- disbursement ------------------------------------------------------------------------
    "Disbursement": "支出",
    "This disbursement was voided: its allocations were reversed and the money is the "
    "donations' again.": "这笔支出已作废：其分配已撤回，资金回到原捐款。",
    "Paid to": "收款方",
    "Purpose": "用途",
    "By": "支出方",
    "For project": "所属项目",
    "Recorded": "记账时间",
    "Funded by donations": "由捐款支付",
    "Not funded by donations": "非捐款支付部分",
    "Disbursement id": "支出编号",
    "Evidence": "凭证",
    "The journal holds the SHA-256 of each original file: a downloaded file that hashes to "
    "the same value is the one recorded.": (
        "账本记录了每份原始文件的 SHA-256：下载的文件若哈希相同，就是当时记录的那一份。"
    ),
    "Donations that paid for it": "支付这笔支出的捐款",
    "reversed": "已撤回",
    "No donation has been allocated to it.": "尚无捐款分配到这笔支出。",
    "Journal entries about this disbursement": "与这笔支出有关的账本记录",
    # -- entry -----------------------------------------------------------------------------
    "Entry": "记录",
    "Appended": "记入时间",
    "Accountable": "责任方",
    "Exactly as hashed": "参与哈希的原文",
    "The entry's RFC 8785 canonical JSON, UTF-8. Its leaf hash is SHA-256 of a 0x00 byte "
    "followed by these bytes.": (
        "该记录的 RFC 8785 规范化 JSON（UTF-8）。其叶哈希为 SHA-256(0x00 字节 ‖ 这些字节)。"
    ),
    "Leaf hash": "叶哈希",
    "Stored leaf hash": "存储的叶哈希",
    "This entry no longer matches the leaf hash stored when it was appended: it was changed "
    "behind the journal's back.": "该记录与写入时存储的叶哈希不再相符：它被绕过账本改动过。",
    "Anchored by": "上链情况",
    "Not anchored yet.": "尚未上链。",
    "Neighbouring entries": "相邻记录",
    # -- entry kinds and what entries name ----------------------------------------------------
    "Charity registered": "慈善组织登记",
    "Project opened": "项目立项",
    "Donation received": "收到捐款",
    "Donation refunded": "捐款退款",
    "Money disbursed": "资金支出",
    "Disbursement voided": "支出作废",
    "Donation allocated": "捐款分配",
    "Allocation reversed": "分配撤回",
    # -- charity signatures (ADR 0037) -----------------------------------------------------
    "Charity signer changed": "慈善组织更换签名密钥",
    "Charity's signature": "组织签名",
    "Signed by the charity's key %(signer)s, registered by entry #%(seq)s.": (
        "由该慈善组织的密钥 %(signer)s 签名，该密钥由记录 #%(seq)s 登记。"
    ),
    "Not signed by the charity: it had no signing key then (an older entry, or one the "
    "platform made).": "未经该慈善组织签名：当时它尚未登记签名密钥（较早的记录，或由平台代为记录）。",
    "Not signed, although the charity signs its fund use with %(signer)s: the charity did "
    "not make this entry.": "未签名，但该慈善组织用密钥 %(signer)s 签署其资金使用：这条记录不是它做的。",
    "The signature is not by the charity's key %(signer)s over this entry.": (
        "这个签名并非该慈善组织的密钥 %(signer)s 对这条记录所做。"
    ),
    "Signed with %(signer)s; this server has no chain to check the signature against.": (
        "由 %(signer)s 签名；本服务器未连接区块链，无法核对签名。"
    ),
    "Check who signed the disbursements this donation paid for": "核对这笔捐款所资助支出的签名者",
    "Disbursement {id} (entry #{seq}): signed by the charity's key {signer}, registered on "
    "chain at block {block}": "支出 {id}（记录 #{seq}）：由该慈善组织的密钥 {signer} 签名，该密钥在区块 {block} 登记上链",
    "Disbursement {id} (entry #{seq}): not signed by the charity (it had no signing key then: "
    "an older entry, or one the platform made)": (
        "支出 {id}（记录 #{seq}）：未经该慈善组织签名（当时它尚未登记签名密钥：较早的记录，或由平台代为记录）"
    ),
    "Disbursement {id}: {detail}": "支出 {id}：{detail}",
    "Charity": "慈善组织",
    "Project": "项目",
    "Allocation": "分配",
    # -- search ----------------------------------------------------------------------------
    "Results for “%(q)s”": "“%(q)s”的搜索结果",
    "Nothing found. Search by donation id (dn_…), charity, project or disbursement id, "
    "transaction hash (0x…), entry number, or a charity's or project's name.": (
        "没有找到。可按捐款编号（dn_…）、组织/项目/支出编号、交易哈希（0x…）、记录序号，"
        "或组织、项目名称搜索。"
    ),
    "Search by donation id (dn_…), charity, project or disbursement id, transaction hash "
    "(0x…), entry number, or a charity's or project's name.": (
        "可按捐款编号（dn_…）、组织/项目/支出编号、交易哈希（0x…）、记录序号，或组织、项目名称搜索。"
    ),
    # -- donors' plain words (issue 14) -------------------------------------------------------
    "Charities": "慈善组织",
    "Pages": "分页",
    "Previous page": "上一页",
    "Next page": "下一页",
    "Page %(page)s of %(pages)s": "第 %(page)s 页，共 %(pages)s 页",
    "%(count)s charities in all, in the order they registered.": "共 %(count)s 家慈善组织，按登记先后排列。",
    "%(count)s projects in all, in the order they opened.": "共 %(count)s 个项目，按立项先后排列。",
    "%(projects)s projects · %(donations)s donations": "%(projects)s 个项目 · %(donations)s 笔捐款",
    "%(donations)s donations": "%(donations)s 笔捐款",
    "No charities yet.": "还没有慈善组织。",
    "Alipay": "支付宝",
    "WeChat Pay": "微信支付",
    "Bank card": "银行卡",
    "Bank transfer": "银行转账",
    "Cash": "现金",
    "UnionPay": "银联",
    "Other channel": "其他渠道",
    "This donation was refunded in full: the money went back to the donor.": "这笔捐款已全额退款：钱已退回给捐赠人。",
    "Part of this donation was refunded: that money went back to the donor.": "这笔捐款已部分退款：退款已退回给捐赠人。",
    "Left with the charity": "留在慈善组织的金额",
    "Technical details": "技术细节",
    "Receipt fingerprint": "收据指纹",
    "SHA-256 of your receipt code and this donation's id: it shows the receipt is yours "
    "without naming you.": "由您的收据密码和捐款编号计算出的 SHA-256：不必公开您的身份，也能证明收据属于您。",
    "Payment channel code": "支付渠道代码",
    "Refund entry": "退款记录",
    "Allocation entry": "分配记录",
    "Anchored on the blockchain": "已锚定在区块链上",
    "Block details": "区块详情",
    "Your browser checks two things itself, trusting nothing this server says: that this "
    "donation is in the journal anchored on the blockchain, and, if you came from your "
    "receipt, that it is yours.": (
        "您的浏览器会自行核验两件事，不依赖本服务器的任何说法：这笔捐款在已锚定到区块链的账本中；"
        "如果您是从收据打开的，这笔捐款是您的。"
    ),
    "How it is checked: the proof, step by step": "核验过程：逐步查看证明",
    "This is your donation: the code in your receipt link matches it.": "这是您的捐款：收据链接中的密码与它相符。",
    "Your receipt link seems damaged: its code does not match this donation, so this page "
    "cannot tell that it is yours. The donation itself is proven, as said above.": (
        "您的收据链接似乎已损坏：其中的密码与这笔捐款不符，因此本页无法确认这是您的捐款。"
        "捐款本身已得到证明（见上）。"
    ),
    "Opened without a receipt code: this proves the donation is recorded, not whose it is. "
    "Open the link or QR code of your receipt to see that it is yours.": (
        "本页没有收据密码：以上只证明这笔捐款已记账，不能说明它属于谁。"
        "请用收据上的链接或二维码打开，即可确认是您的捐款。"
    ),
    "The diagram is wider than your screen: swipe sideways to see all of it.": "图比屏幕宽：左右滑动可查看全部。",
    "Swipe sideways to see every column.": "左右滑动可查看所有列。",
    "Invoice or receipt (PDF)": "发票或收据（PDF）",
    "Photo of the invoice": "发票照片",
    "Document": "文件",
    "File fingerprint": "文件指纹",
    "Refunded on": "退款时间",
    "Reason": "原因",
    # -- the donor's own list (/my) and "keep" on the donation page ---------------------------
    "My donations": "我的捐款",
    "Keep": "保存",
    "Your list": "您的列表",
    "The donations whose receipts you kept on this device, and where their money went. The "
    "list is kept in this browser only: this site keeps no list of your donations, and "
    "nobody else can see it.": (
        "您在本设备上保存了收据的捐款，以及这些钱的去向。列表只保存在本浏览器中："
        "本站不保存您的捐款列表，其他人也看不到。"
    ),
    "Add them": "添加",
    "Not now": "暂不",
    "No donation is kept on this device yet. Open the link on your receipt (scan its QR "
    "code): once your browser has checked that the donation is yours, choose “Keep”. Or "
    "load a list saved on another device.": (
        "本设备上还没有保存任何捐款。请打开收据上的链接（扫描收据上的二维码）："
        "浏览器核验这笔捐款是您的之后，点“保存”。也可以载入在其他设备上保存的列表。"
    ),
    "Your list on another device": "在其他设备上使用您的列表",
    "Show QR codes": "显示二维码",
    "for the other device's camera": "供另一台设备的相机扫描",
    "Save to a file": "保存为文件",
    "Load a saved list": "载入保存的列表",
    "Forget the whole list on this device": "清除本设备上的整个列表",
    "Your list is kept by your browser and needs JavaScript to be shown.": "您的列表由浏览器保存，需要启用 JavaScript 才能显示。",
    "Keep this donation in your list on this device, to find it again later.": "把这笔捐款保存到本设备上的列表中，以后可以再次找到。",
    "This donation is in your list on this device.": "这笔捐款已在本设备上的列表中。",
    "This browser does not let the page keep anything (private mode?): keep your receipt "
    "link instead.": "此浏览器不允许网页保存任何内容（无痕模式？）：请保留好您的收据链接。",
    "Your list is full: at most {max} donations can be kept.": "您的列表已满：最多可保存 {max} 笔捐款。",
    "This browser does not let the page keep anything.": "此浏览器不允许网页保存任何内容。",
    "Fetching your donations ({count})…": "正在获取您的 {count} 笔捐款……",
    "Donations kept on this device: {count}.": "本设备上保存了 {count} 笔捐款。",
    "This donation is not in this site's journal: was it kept from another site?": "本站账本中没有这笔捐款：它是从其他网站保存的吗？",
    "Could not fetch this donation just now; try again later.": "暂时无法获取这笔捐款，请稍后再试。",
    "Given": "捐出",
    "{amount} paid {payee}: {purpose}": "{amount} 支付给 {payee}：{purpose}",
    "Forget on this device": "从本设备清除",
    "Forget every donation kept on this device? Your receipts and donations are not "
    "affected; only this list is removed.": "清除本设备上保存的所有捐款？您的收据和捐款不受影响，只会删除这个列表。",
    "This link carries donations from another device ({count} in all, {fresh} not in your "
    "list yet). Add them to your list on this device?": (
        "这个链接带有另一台设备上的 {count} 笔捐款（其中 {fresh} 笔还不在您的列表中）。要添加到本设备上的列表吗？"
    ),
    "Added to your list: {count}.": "已向您的列表添加 {count} 笔捐款。",
    "Scan the codes ({count}) with the other device's camera, one after another: each adds "
    "its donations there. Anyone who scans them can see these donations as yours, so show them "
    "only to your own devices.": (
        "用另一台设备的相机依次扫描这 {count} 个二维码，每个都会把其中的捐款添加到那台设备上。"
        "任何人扫描后都能像您一样查看这些捐款，请只用您自己的设备扫描。"
    ),
    "Code {n} of {count}": "第 {n} 个，共 {count} 个",
    "Your list is too long for QR codes (more than {max} donations): save it to a file and "
    "open the file on the other device.": "您的列表太长，无法用二维码转移（超过 {max} 笔捐款）：请保存为文件，再在另一台设备上载入。",
    "This browser does not let the page keep anything (private mode, or a setting): the "
    "list cannot be kept here.": "此浏览器不允许网页保存任何内容（无痕模式或某项设置）：无法在这里保存列表。",
    "That file is not a list of donations: it is not JSON.": "这个文件不是捐款列表：它不是 JSON。",
    "That file is not a list of donations saved by this page.": "这个文件不是本页保存的捐款列表。",
    "That file was saved by another version of this page ({version}).": "这个文件由本页的其他版本保存（{version}）。",
    "That file holds no list of donations.": "这个文件里没有捐款列表。",
    "That is too many donations: at most {max} can be kept.": "捐款太多了：最多可保存 {max} 笔。",
    "Donation {n} of that list has no valid donation id.": "该列表第 {n} 笔捐款的编号无效。",
    "Donation {n} of that list has no valid receipt code.": "该列表第 {n} 笔捐款的收据密码无效。",
    "That link is damaged: it carries no valid list of donations.": "这个链接已损坏：其中没有有效的捐款列表。",
    "That file is too big to be a list of donations.": "这个文件太大，不可能是捐款列表。",
    # -- official e-receipts on the donor's donation page (ADR 0041) ---------------------------
    "Your two receipts, and which is which": "您的两份凭证，各是什么",
    "shanlian traceability receipt": "善链追溯凭证",
    "Checked against the chain: your browser proved above that this donation is in the anchored journal and that it is yours. It shows where the money went.": "与区块链核对：您的浏览器已在上方证明这笔捐款记在已上链锚定的账本中，而且是您的。它显示钱的去向。",
    "Official donation receipt (公益事业捐赠电子票据)": "官方捐赠票据（公益事业捐赠电子票据）",
    "Issued by the charity, checkable on the government platform (全国财政电子票据查验平台) with the code, number and check code below. This site does not check it.": "由慈善组织开具，可凭下面的票据代码、票据号码和校验码在全国财政电子票据查验平台查验。本站不核验它。",
    "Receipt code": "票据代码",
    "Receipt number": "票据号码",
    "Check code": "校验码",
    "The charity corrected this receipt after it first attached it.": "慈善组织在首次登记后更正过这张票据。",
    "The charity has not attached an official receipt to this donation yet.": "慈善组织尚未为这笔捐款登记官方捐赠票据。",
    "Only you see this, with your receipt code: these numbers would let anyone look up your name on the government platform.": "只有持收据密码的您能看到这些：凭这些号码，任何人都能在政府平台查到您的姓名。",
    # -- disclosure reports (ADR 0039) -----------------------------------------------------------
    "Project closed": "项目结项",
    "Report published": "报告发布",
    "Disclosure reports": "信息公开报告",
    "Disclosure reports and their schedule": "信息公开报告及公开时间表",
    "Correction notes": "更正说明",
    "Publications of this period": "本期报告的历次公开",
    "At the checkpoint of %(n)s entries": "以 %(n)s 条条目的检查点为准",
    "Opened": "开始",
    "Registered": "登记",
    "Closed": "结项",
    "Latest anchored checkpoint": "最新上链检查点",
    "%(n)s entries": "%(n)s 条",
    "A project that lasts longer than six months publishes a progress report every quarter (due by the end of the month after the quarter), and a final report within three months after it closes. Quarters are calendar quarters in Beijing time.": "持续六个月以上的项目每季度公开一次进展报告（季度结束后次月底前），结项后三个月内公开结项报告。季度按北京时间的自然季度计算。",
    "A charity's own quarterly reports cover all its money; the reports each project owes are on the project's page.": "机构自身的季度报告涵盖其全部资金；各项目应公开的报告见项目页面。",
    "Schedule": "公开时间表",
    "Final report": "结项报告",
    "Progress report %(period)s": "进展报告 %(period)s",
    "Due by %(day)s": "应于 %(day)s 前公开",
    "Not required": "无需公开",
    "published": "已公开",
    "%(n)s publications": "公开 %(n)s 次",
    "View the report": "查看报告",
    "No corrections.": "没有更正。",
    "Published": "已公开",
    "Published late": "逾期公开",
    "Due": "待公开",
    "Late": "逾期",
    "In progress": "进行中",
    "Corrected after this report:": "本报告之后的更正：",
    "This checkpoint does not reach past the end of the period yet: later entries may still add to it.": "此检查点尚未覆盖到本期结束之后：之后的条目仍可能计入本期。",
    "Period": "期间",
    "(Beijing time; the end excluded)": "（北京时间，不含结束日）",
    "The project's whole life": "项目全程",
    "Computed from": "计算依据",
    "the first %(n)s entries of the journal": "账本的前 %(n)s 条条目",
    "anchored": "上链于",
    "Root hash": "根哈希",
    "Report digest": "报告摘要",
    "its digest is this report's": "其摘要与本报告一致",
    "its digest is NOT this report's": "其摘要与本报告不一致",
    "Not published at this checkpoint": "未在此检查点公开",
    "Download": "下载",
    "Figures": "资金数据",
    "This period": "本期",
    "Whole life": "全程",
    "Since the start": "累计",
    "Donations received": "收到捐款",
    "Allocated to disbursements": "已拨付使用",
    "Disbursed": "支出",
    "Held at the end": "期末结余",
    "No money moved in this period.": "本期没有资金变动。",
    "Disbursements by purpose": "按用途分类的支出",
    "%(n)s disbursements": "%(n)s 笔支出",
    "Disbursements": "支出明细",
    "No disbursements in this period.": "本期没有支出。",
    "corrects entry": "更正条目",
    "Every figure here derives from the journal's first %(n)s entries, whose Merkle root is anchored on chain. With an export of the journal, the audit recomputes this report and says whether it matches:": "这里的每个数字都由账本的前 %(n)s 条条目算出，其默克尔根已锚定在链上。用账本导出文件，审计工具可重新计算本报告并判断是否一致：",
    # -- matching funds (配捐, ADR 0040) --
    "Matcher registered": "配捐方登记",
    "Matching pool opened": "配捐池开放",
    "Matching pool closed": "配捐池关闭",
    "Donation matched": "捐款获得配捐",
    "Match reversed": "配捐撤回",
    "Matching pool": "配捐池",
    "%(matcher)s matches donations to the projects below: %(ratio)s%% of each donation, by the "
    "rules below.": "%(matcher)s 为下列项目的捐款配捐：每笔捐款的 %(ratio)s%%，规则如下。",
    "This pool is closed: it matches no more donations.": "此配捐池已关闭，不再配捐。",
    "%(count)s matches": "%(count)s 笔配捐",
    "Ratio": "配捐比例",
    "matched of %(total)s pledged": "已配捐（承诺共 %(total)s）",
    "%(left)s left": "剩余 %(left)s",
    "Per donation": "每笔捐款",
    "at most %(amount)s": "最多 %(amount)s",
    "Per payer a day": "每位付款人每天",
    "Payer interval": "付款间隔",
    "one match in %(seconds)s s at most": "%(seconds)s 秒内最多配捐一次",
    "Paid from": "付款时间自",
    "Paid before": "付款时间早于",
    "Pool entry": "配捐池记录",
    "A match is whole or not made: when the pool cannot cover a donation's full match, that "
    "donation is not matched. Every match is a journal entry the audit checks against these "
    "rules.": "配捐要么全额，要么不配：配捐池不足以全额配捐某笔捐款时，这笔捐款不获配捐。每笔配捐都是一条账本记录，审计会按这些规则逐条核对。",
    "Latest matches": "最新配捐",
    "the matched money": "配捐款项",
    "No matches yet.": "暂无配捐。",
    "This is matched money: %(matcher)s matched a donation through the pool “%(pool)s”.": (
        "这是配捐款项：%(matcher)s 通过配捐池“%(pool)s”为一笔捐款配捐。"
    ),
    "The donation it matches": "所配捐的捐款",
    "The matching pool": "配捐池",
    "Matched": "配捐",
    "Matching funds": "配捐资金",
    "Your %(given)s was matched %(matched)s by %(matcher)s": "您的 %(given)s 获得 %(matcher)s 配捐 %(matched)s",
}
