BeforeAll {
    . (Join-Path $PSScriptRoot 'DbSync.Pester.ps1')
}

Describe 'Reset-DbSyncNode' {
    BeforeEach {
        $db = Copy-Chinook ("reset-" + [guid]::NewGuid().ToString('N').Substring(0, 6) + '.sqlite')
        $node = (Enable-DbSync -LiteralPath $db -Table Genre, Artist).NodeId
    }

    It 'gives the file a new node id, which Get-DbSyncStatus then shows' {
        $result = Reset-DbSyncNode -LiteralPath $db -Force
        $result.GetType().FullName | Should -Be 'DbSync.Core.ResetNodeResult'
        $result.Path | Should -Be $db
        $result.PreviousNodeId | Should -Be $node
        $result.NodeId | Should -Not -Be $node
        $result.Released | Should -BeFalse
        $result.Tables | Should -Be @('Artist', 'Genre')
        "$result" | Should -Be "$($db): node $node -> $($result.NodeId), 2 table(s) copied in full on the next sync"
        (Get-DbSyncStatus -LiteralPath $db).NodeId | Should -Be $result.NodeId
    }

    It 'keeps the password of a connection string given as the path out of its What-if and verbose text' {
        (Invoke-ChildPwsh "Reset-DbSyncNode -Path '$Pg' -WhatIf -ErrorAction SilentlyContinue").Output | Should -Match 'What if: .*Give the file a new node id.* on target ".*Password=\*\*\*;.*"'
        $shown = Get-StreamText { Reset-DbSyncNode -Path $Pg -Confirm:$false -Verbose -ErrorAction SilentlyContinue }
        $shown | Should -Match 'Give the file a new node id.* on target ".*Password=\*\*\*;.*"'
        $shown | Should -Not -Match ([regex]::Escape((Get-PgPassword)))
    }

    It 'takes an optional connection and releases nothing for a node PostgreSQL never saw' {
        $result = Reset-DbSyncNode -LiteralPath $db -ConnectionString $Pg -Confirm:$false
        $result.Released | Should -BeFalse
        $result.NodeId | Should -Not -Be $node
    }

    It 'asks for confirmation (ConfirmImpact High), which a non-interactive job cannot give' {
        $run = Invoke-ChildPwsh "Reset-DbSyncNode -LiteralPath '$db'"
        $run.ExitCode | Should -Not -Be 0
        (Get-DbSyncStatus -LiteralPath $db).NodeId | Should -Be $node
    }

    It 'does not prompt with -Force in a non-interactive job' {
        $run = Invoke-ChildPwsh "(Reset-DbSyncNode -LiteralPath '$db' -Force).PreviousNodeId"
        $run.ExitCode | Should -Be 0
        $run.Output.Trim() | Should -Be $node
    }

    It 'changes nothing with -WhatIf, even with -Force' {
        $before = Get-FileHashText $db
        Reset-DbSyncNode -LiteralPath $db -Force -WhatIf | Should -BeNullOrEmpty
        Get-FileHashText $db | Should -Be $before
    }

    It 'refuses a file on which capture was never enabled with DbSync.UsageError' {
        $fresh = Copy-Chinook ("fresh-" + [guid]::NewGuid().ToString('N').Substring(0, 6) + '.sqlite')
        $before = Get-FileHashText $fresh
        { Reset-DbSyncNode -LiteralPath $fresh -Force } | Should -Throw -ErrorId 'DbSync.UsageError,DbSync.PowerShell.Commands.ResetDbSyncNodeCommand'
        Get-FileHashText $fresh | Should -Be $before
    }

    It 'reports a file on which capture was never enabled as that file''s error, and resets the files after it' {
        $fresh = Copy-Chinook ("fresh-" + [guid]::NewGuid().ToString('N').Substring(0, 6) + '.sqlite')
        $other = Copy-Chinook ("other-" + [guid]::NewGuid().ToString('N').Substring(0, 6) + '.sqlite')
        $otherNode = (Enable-DbSync -LiteralPath $other -Table Genre).NodeId
        $results = Reset-DbSyncNode -LiteralPath $db, $fresh, $other -Force -ErrorAction SilentlyContinue -ErrorVariable failures
        $results.Path | Should -Be @($db, $other)
        $failures | Should -HaveCount 1
        $failures[0].FullyQualifiedErrorId | Should -Be 'DbSync.UsageError,DbSync.PowerShell.Commands.ResetDbSyncNodeCommand'
        $failures[0].CategoryInfo.Category | Should -Be 'InvalidOperation'
        $failures[0].TargetObject | Should -Be $fresh
        (Get-DbSyncStatus -LiteralPath $other).NodeId | Should -Not -Be $otherNode
        (Get-DbSyncStatus -LiteralPath $fresh).CaptureEnabled | Should -BeFalse
    }

    It 'has help with a synopsis, every parameter and examples' {
        $help = Get-Help Reset-DbSyncNode -Full
        $help.Synopsis | Should -Not -BeNullOrEmpty
        $help.parameters.parameter.name | Should -Contain 'Force'
        @($help.examples.example).Count | Should -BeGreaterOrEqual 2
    }
}
